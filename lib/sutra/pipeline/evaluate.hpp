#pragma once
// `sutra eval`: perplexity of a model (safetensors checkpoint or .qbin, run with the built-in
// forward pass; a .qbin is dequantized on the fly) on a text, with the reference protocol:
// windows of seq_len tokens, each BOS + seq_len - 1 text tokens, every text token scored once.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "sutra/base/error.hpp"
#include "sutra/pipeline/progress.hpp"

namespace sutra::pipeline {

struct EvalOptions {
    std::filesystem::path model;
    std::optional<std::filesystem::path> model_dir;  // config.json + tokenizer
    std::optional<std::filesystem::path> text;       // encoded with the model's tokenizer
    std::optional<std::filesystem::path> tokens;     // or: whitespace-separated token ids
    std::optional<std::filesystem::path> tokenizer;  // instead of the model folder's
    int64_t seq_len = 256;
    int64_t max_tokens = 0;  // 0 = all
};

struct EvalReport {
    std::string model;
    double perplexity = 0;
    double mean_nll = 0;
    int64_t tokens = 0;
    int64_t windows = 0;
    double seconds = 0;
    std::string tokenizer;  // description of the tokenizer used; "" with token ids
};

Result<EvalReport> run_eval(const EvalOptions& opt, ProgressObserver* progress);

}  // namespace sutra::pipeline
