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

enum class TokenizerKind { hf_json, sentencepiece, llama2c, bytes };

// "tokenizer.json", "sentencepiece", "llama2.c", "bytes"
const char* kind_name(TokenizerKind kind);

struct TokenizerFile {
    std::filesystem::path path;
    TokenizerKind kind = TokenizerKind::hf_json;
};

// The tokenizer file in `dir`; not_found (listing the names looked for and the fixes:
// --tokenizer PATH or --tokens-file) when there is none.
Result<TokenizerFile> find_tokenizer_file(const std::filesystem::path& dir);

// `path` as given by --tokenizer: a folder (searched as above) or a file; `bytes` (when no
// file of that name exists) is the byte-level tokenizer (token = byte value, 256 tokens).
Result<TokenizerFile> resolve_tokenizer_path(const std::filesystem::path& path);

struct LoadedTokenizer {
    std::unique_ptr<Tokenizer> tokenizer;
    TokenizerFile file;
};

// Loads `file`. model_vocab > 0: the tokenizer must not produce ids at or past it (a llama2.c
// file must hold exactly model_vocab tokens); bad_format naming both sizes otherwise.
Result<LoadedTokenizer> load_tokenizer(const TokenizerFile& file, int64_t model_vocab);

// The tokenizer named by `override_path` if given, else the one in `model_dir`; a folder
// without one for a model of exactly 256 tokens gets the byte-level tokenizer (RWKV's tiny
// byte models).
Result<LoadedTokenizer> open_tokenizer(const std::filesystem::path& model_dir,
                                       const std::optional<std::filesystem::path>& override_path,
                                       int64_t model_vocab);

}  // namespace sutra::tokenize
