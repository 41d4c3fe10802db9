// sutra generate MODEL|OUT.qbin (--prompt TEXT | --tokens-file IDS) [--max-tokens N]
//   [--temperature T] [--top-p P] [--top-k K] [--seed S] [--tokenizer PATH|bytes]
//   [--model-dir DIR] [--json]
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "sutra/pipeline/generate.hpp"

namespace sutra::app {

Runner add_generate(CLI::App& app, const GlobalOptions& g) {
    struct Args {
        std::string model, model_dir, prompt, tokens, tokenizer, activations;
        bool has_prompt = false;
        int64_t max_tokens = 128;
        double temperature = 0.0, top_p = 1.0;
        int64_t top_k = 0;
        uint64_t seed = 0;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    app.add_option("model", a->model, "Checkpoint (file, index, folder) or .qbin")->required();
    auto* prompt = app.add_option("--prompt", a->prompt, "Prompt text (the model's tokenizer)");
    app.add_option("--tokens-file", a->tokens,
                   "File of whitespace-separated prompt token ids (instead of --prompt)");
    app.add_option("--tokenizer", a->tokenizer,
                   "Tokenizer file or folder, or `bytes` (default: the model folder's)");
    app.add_option("--model-dir", a->model_dir,
                   "Folder with config.json and the tokenizer (default: the model's folder)");
    app.add_option("--max-tokens", a->max_tokens, "Tokens to generate at most (default 128)");
    app.add_option("--temperature", a->temperature, "Sampling temperature; 0 = greedy (default)");
    app.add_option("--top-p", a->top_p, "Nucleus sampling mass (default 1: off)");
    app.add_option("--top-k", a->top_k, "Sample among the K most likely tokens (default 0: off)");
    app.add_option("--seed", a->seed, "Random seed (same seed, same text; default 0)");
    app.add_flag("--json", a->json,
                 "Print one JSON document (ids, text, speeds) instead of streaming the text");
    add_activations_flag(app, a->activations);
    return [a, prompt, &g]() -> int {
        apply_product_options(g, a->activations);
        pipeline::GenerateOptions opt;
        opt.model = a->model;
        if (!a->model_dir.empty()) opt.model_dir = a->model_dir;
        if (prompt->count()) opt.prompt = a->prompt;
        if (!a->tokens.empty()) opt.tokens_file = a->tokens;
        if (!a->tokenizer.empty()) opt.tokenizer = a->tokenizer;
        opt.generate.max_tokens = a->max_tokens;
        opt.generate.sampler.temperature = a->temperature;
        opt.generate.sampler.top_p = a->top_p;
        opt.generate.sampler.top_k = a->top_k;
        opt.generate.sampler.seed = a->seed;
        pipeline::TextSink sink;
        bool streamed = false;
        if (!a->json)
            sink = [&streamed](std::string_view piece) {
                std::fwrite(piece.data(), 1, piece.size(), stdout);
                std::fflush(stdout);
                streamed = true;
            };
        auto r = pipeline::run_generate(opt, sink);
        if (!r) {
            // End a line of streamed text; an error before any text leaves stdout empty.
            if (streamed) std::fputc('\n', stdout);
            return fail(r.error());
        }
        if (a->json) {
            nlohmann::ordered_json j;
            j["schema"] = "sutra.generate/1";
            j["model"] = r->model;
            j["family"] = r->family;
            j["tokenizer"] = r->tokenizer;
            j["prompt_ids"] = r->prompt_ids;
            j["ids"] = r->ids;
            j["text"] = r->text;
            j["stopped_at_eos"] = r->stopped_at_eos;
            j["prompt_tokens_per_s"] = r->prompt_tokens_per_s;
            j["tokens_per_s"] = r->tokens_per_s;
            j["prompt_seconds"] = r->prompt_seconds;
            j["generate_seconds"] = r->generate_seconds;
            j["peak_rss_bytes"] = r->peak_rss_bytes;
            std::printf("%s\n",
                        j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        } else {
            std::printf("\n");
            std::fflush(stdout);
            std::fprintf(stderr, "%zu tokens, prompt %s tokens/s, generation %s tokens/s\n",
                         r->ids.size(), fixed(r->prompt_tokens_per_s, 1).c_str(),
                         fixed(r->tokens_per_s, 1).c_str());
        }
        return kExitOk;
    };
}

}  // namespace sutra::app
