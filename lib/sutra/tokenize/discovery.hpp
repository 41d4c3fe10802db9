#pragma once
// Finds and opens the tokenizer of a model folder. A folder's tokenizer is, in this order:
// `tokenizer.json` (Hugging Face), `tokenizer.model` or `spiece.model` (SentencePiece),
// `tok512.bin` or `tokenizer.bin` (llama2.c). `--tokenizer PATH` names a file of any of these
// kinds (recognised by name, else by content) or a folder searched in the same order.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "sutra/base/error.hpp"
#include "sutra/tokenize/tokenizer.hpp"

namespace sutra::tokenize {

enum class TokenizerKind { hf_json, sentencepiece, llama2c };

const char* kind_name(TokenizerKind kind);  // "tokenizer.json", "sentencepiece", "llama2.c"

struct TokenizerFile {
    std::filesystem::path path;
    TokenizerKind kind = TokenizerKind::hf_json;
};

// The tokenizer file in `dir`; not_found (listing the names looked for and the fixes:
// --tokenizer PATH or --tokens-file) when there is none.
Result<TokenizerFile> find_tokenizer_file(const std::filesystem::path& dir);

// `path` as given by --tokenizer: a folder (searched as above) or a file.
Result<TokenizerFile> resolve_tokenizer_path(const std::filesystem::path& path);

struct LoadedTokenizer {
    std::unique_ptr<Tokenizer> tokenizer;
    TokenizerFile file;
};

// Loads `file`. model_vocab > 0: the tokenizer must not produce ids at or past it (a llama2.c
// file must hold exactly model_vocab tokens); bad_format naming both sizes otherwise.
Result<LoadedTokenizer> load_tokenizer(const TokenizerFile& file, int64_t model_vocab);

// The tokenizer named by `override_path` if given, else the one in `model_dir`.
Result<LoadedTokenizer> open_tokenizer(const std::filesystem::path& model_dir,
                                       const std::optional<std::filesystem::path>& override_path,
                                       int64_t model_vocab);

}  // namespace sutra::tokenize
