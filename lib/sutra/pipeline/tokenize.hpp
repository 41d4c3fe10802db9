#pragma once
// `sutra tokenize`: a model's (or a tokenizer file's) tokenizer on a text, or back from ids,
// so that anyone can compare sutra's tokens with their own stack.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"

namespace sutra::pipeline {

struct TokenizeOptions {
    // A model folder (its tokenizer is found as tokenize/discovery.hpp says), a checkpoint
    // file in one, or a tokenizer file (tokenizer.json, *.model, tok512.bin).
    std::filesystem::path source;
    std::optional<std::filesystem::path> text;    // encode this file ("-": standard input)
    std::optional<std::filesystem::path> decode;  // or decode this file of token ids
    bool special = true;  // encode: add special tokens; decode: give special tokens text
};

struct TokenizeReport {
    std::string tokenizer;     // its description
    std::string file;          // the tokenizer file used
    std::vector<int32_t> ids;  // encode: the ids; decode: the ids read
    std::string text;          // decode: the text
};

Result<TokenizeReport> run_tokenize(const TokenizeOptions& opt);

}  // namespace sutra::pipeline
