// sutra eval MODEL (--text FILE | --tokens-file FILE) [--model-dir DIR] [--seq-len N] [--max-tokens
// N]
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "sutra/pipeline/evaluate.hpp"

namespace sutra::app {

Runner add_eval(CLI::App& app, const GlobalOptions& g) {
    struct Args {
        std::string model, model_dir, text, tokens, tokenizer, activations;
        int64_t seq_len = 256, max_tokens = 0;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    app.add_option("model", a->model, "Checkpoint (file, index, folder) or .qbin")->required();
    app.add_option("--text", a->text, "Text file, tokenized with the model's tokenizer");
    app.add_option("--tokens", a->tokens,
                   "File of whitespace-separated token ids (instead of --text)");
    app.add_option("--tokenizer", a->tokenizer,
                   "Tokenizer file or folder (default: the model folder's)");
    app.add_option("--model-dir", a->model_dir,
                   "Folder with config.json and the tokenizer (default: the model's folder)");
    app.add_option("--seq-len", a->seq_len, "Window length in tokens, BOS included (default 256)");
    app.add_option("--max-tokens", a->max_tokens,
                   "Score only the first N text tokens (default: all)");
    add_activations_flag(app, a->activations);
    app.add_flag("--json", a->json, "Print the result as JSON on stdout");
    return [a, &g]() -> int {
        apply_product_options(g, a->activations);
        pipeline::EvalOptions opt;
        opt.model = a->model;
        if (!a->model_dir.empty()) opt.model_dir = a->model_dir;
        if (!a->text.empty()) opt.text = a->text;
        if (!a->tokens.empty()) opt.tokens = a->tokens;
        if (!a->tokenizer.empty()) opt.tokenizer = a->tokenizer;
        opt.seq_len = a->seq_len;
        opt.max_tokens = a->max_tokens;
        auto progress = make_progress(g);
        auto r = pipeline::run_eval(opt, progress.get());
        if (!r) return fail(r.error());
        if (a->json) {
            nlohmann::ordered_json j;
            j["schema"] = "sutra.eval/1";
            j["model"] = r->model;
            j["perplexity"] = r->perplexity;
            j["mean_nll"] = r->mean_nll;
            j["tokens"] = r->tokens;
            j["windows"] = r->windows;
            j["tokenizer"] = r->tokenizer;
            j["seq_len"] = a->seq_len;
            j["seconds"] = r->seconds;
            std::printf("%s\n", j.dump(2).c_str());
        } else {
            std::printf("%s: perplexity %s over %lld tokens (%lld windows of %lld), %s s\n",
                        r->model.c_str(), fixed(r->perplexity, 4).c_str(),
                        static_cast<long long>(r->tokens), static_cast<long long>(r->windows),
                        static_cast<long long>(a->seq_len), fixed(r->seconds, 2).c_str());
        }
        return kExitOk;
    };
}

}  // namespace sutra::app
