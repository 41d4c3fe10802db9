#pragma once
// `sutra generate`: text from a model of any family (checkpoint or .qbin) with the built-in
// forward pass: the prompt (text through the model's tokenizer, or token ids) in one pass,
// then one token at a time (model/generate.hpp), the text handed out as it grows.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/generate.hpp"

namespace sutra::pipeline {

struct GenerateOptions {
    std::filesystem::path model;
    std::optional<std::filesystem::path> model_dir;    // config.json + tokenizer
    std::optional<std::string> prompt;                 // text, encoded with the tokenizer
    std::optional<std::filesystem::path> tokens_file;  // or: whitespace-separated ids
    std::optional<std::filesystem::path> tokenizer;    // instead of the model folder's
    model::GenerateOptions generate;
};

struct GenerateReport {
    std::string model;
    std::string family;  // "llama", "rwkv", "mamba" (and its variant)
    std::string tokenizer;
    std::vector<int32_t> prompt_ids;
    std::vector<int32_t> ids;  // generated, a stopping EOS included
    // The generated ids' text as it reads after the prompt: special tokens and a stopping EOS
    // give none.
    std::string text;
    bool stopped_at_eos = false;
    double prompt_seconds = 0, generate_seconds = 0;
    double prompt_tokens_per_s = 0, tokens_per_s = 0;
    uint64_t peak_rss_bytes = 0;
};

// Receives each new piece of the generated text as soon as it is known (a piece ends where
// the text decoded so far is stable: never in the middle of a UTF-8 character).
using TextSink = std::function<void(std::string_view piece)>;

// Without a tokenizer (token ids in, no tokenizer file found): text is "" and ids are all.
Result<GenerateReport> run_generate(const GenerateOptions& opt, const TextSink& on_text = {});

}  // namespace sutra::pipeline
