// sutra calibrate MODEL (--text FILE... | --tokens-file IDS) [--tokens N] [--seq-len L]
// [--seed N] [--tokenizer PATH] [--model-dir DIR] -o STATS.safetensors [--force] [--json]
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "sutra/pipeline/calibrate.hpp"

namespace sutra::app {

Runner add_calibrate(CLI::App& app, const GlobalOptions& g) {
    struct Args {
        std::string model, model_dir, tokens_file, tokenizer, output;
        std::vector<std::string> texts;
        uint64_t seed = 42;
        int64_t seq_len = 256, max_tokens = 16384;
        bool force = false, json = false;
    };
    auto a = std::make_shared<Args>();
    app.add_option("model", a->model,
                   "Full-precision checkpoint (file, index or folder) of any family: Llama, "
                   "RWKV, Mamba")
        ->required();
    app.add_option("--text", a->texts,
                   "Calibration text: plain text or JSON Lines with a \"text\" field; several "
                   "files allowed (repeat the flag)");
    app.add_option("--tokenizer", a->tokenizer,
                   "Tokenizer file or folder (default: the model folder's tokenizer.json, "
                   "tokenizer.model or tok512.bin)");
    app.add_option("--seed", a->seed,
                   "Seed of the document order when a large corpus is sampled (default 42)");
    app.add_option("--tokens-file", a->tokens_file,
                   "File of whitespace-separated token ids (instead of --text)");
    app.add_option("--tokens", a->max_tokens,
                   "Use at most N text tokens, in full windows (default 16384; 0 = all)");
    app.add_option("--seq-len", a->seq_len,
                   "Window length in tokens, BOS included (default 256): each window is BOS + "
                   "seq_len - 1 text tokens (seq_len text tokens for a model without a BOS: "
                   "RWKV)");
    app.add_option("--model-dir", a->model_dir,
                   "Folder with config.json and the tokenizer (default: the model's folder)");
    app.add_option("-o,--output", a->output, "Calibration file to write (.safetensors)")
        ->required();
    app.add_flag("--force", a->force, "Overwrite an existing output");
    app.add_flag("--json", a->json, "Print the result as JSON on stdout");
    return [a, &g]() -> int {
        pipeline::CalibrateOptions opt;
        opt.model = a->model;
        if (!a->model_dir.empty()) opt.model_dir = a->model_dir;
        opt.texts.assign(a->texts.begin(), a->texts.end());
        if (!a->tokens_file.empty()) opt.tokens = a->tokens_file;
        if (!a->tokenizer.empty()) opt.tokenizer = a->tokenizer;
        opt.seed = a->seed;
        if (!opt.texts.empty() == opt.tokens.has_value())
            return fail(make_error(Errc::invalid_argument,
                                   "give exactly one of --text FILE and --tokens-file IDS"));
        opt.output = a->output;
        opt.seq_len = a->seq_len;
        opt.max_tokens = a->max_tokens;
        opt.force = a->force;
        auto progress = make_progress(g);
        auto r = pipeline::run_calibrate(opt, progress.get());
        if (!r) return fail(r.error());
        if (a->json) {
            nlohmann::ordered_json j;
            j["schema"] = "sutra.calibrate/1";
            j["model"] = r->model;
            j["output"] = r->output;
            j["linears"] = r->linears;
            j["windows"] = r->windows;
            j["seq_len"] = r->seq_len;
            j["text_tokens"] = r->text_tokens;
            j["used_tokens"] = r->used_tokens;
            j["tokenizer"] = r->tokenizer;
            j["documents"] = r->documents;
            j["documents_used"] = r->documents_used;
            j["positions"] = r->positions;
            j["bytes"] = r->bytes;
            j["seconds"] = r->seconds;
            std::printf("%s\n", j.dump(2).c_str());
        } else {
            std::printf(
                "%s: statistics of %lld linear inputs over %lld windows of %lld tokens "
                "(%lld of %lld text tokens), %s, %s s\n",
                r->output.c_str(), static_cast<long long>(r->linears),
                static_cast<long long>(r->windows), static_cast<long long>(r->seq_len),
                static_cast<long long>(r->used_tokens), static_cast<long long>(r->text_tokens),
                human_bytes(r->bytes).c_str(), fixed(r->seconds, 2).c_str());
        }
        return kExitOk;
    };
}

}  // namespace sutra::app
