#pragma once
// Calibration text as people have it: plain text files, JSON Lines files with a "text" field
// per line (the form pile-val and similar calibration sets are distributed in), or several
// files of either kind. The files are never read into memory whole: a first pass indexes the
// documents (byte ranges), a second reads and tokenizes only the documents it uses.
//
// Documents: a JSON Lines file (name ending .jsonl / .ndjson, or whose first non-blank byte
// is '{') holds one document per non-blank line; a plain text file is one document, or,
// above 64 MiB, one document per paragraph run (split at blank lines into pieces of at most
// about 1 MiB). Each document is tokenized on its own (no special tokens) and documents are
// joined by `separator` (the model's BOS, as pre-training joins them), so no token spans two
// documents.
//
// Which documents: all of them, in order, when they hold at most 32 MiB of text; otherwise
// documents are drawn in a seeded pseudo-random order (the same seed gives the same order on
// every machine: a splitmix64 permutation) until the tokens suffice. Which windows: the
// joined tokens are cut into chunks of seq_len - 1 tokens; when there are more chunks than the
// token budget needs, the chunks used are spread evenly over all of them (chunk
// floor(i * chunks / wanted) for i = 0 .. wanted - 1), so a long text is sampled from end to
// end rather than from its beginning only.
#include <cstdint>
#include <filesystem>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/tokenize/tokenizer.hpp"

namespace sutra::calib {

struct CorpusOptions {
    std::vector<std::filesystem::path> files;
    int64_t seq_len = 256;   // window length, the window's first (BOS) token included
    int64_t max_tokens = 0;  // text tokens wanted; 0 = every document
    uint64_t seed = 42;      // document order for large corpora
    int32_t separator = -1;  // id put between documents; -1 = none
};

struct CorpusTokens {
    // The chosen chunks' text tokens, back to back: exactly a multiple of seq_len - 1 tokens
    // when max_tokens > 0 and the text sufficed, else every token read.
    std::vector<int32_t> tokens;
    int64_t documents = 0;       // documents in all files
    int64_t documents_used = 0;  // documents tokenized
    int64_t tokens_read = 0;     // tokens of the documents used (separators not counted)
    uint64_t bytes = 0;          // text bytes in all files
};

// Errors: not_found / io for a file, bad_format naming file and line for a JSON Lines line
// that is not an object with a string "text" field, too_large for a line over 64 MiB,
// invalid_argument for no files or no text at all.
Result<CorpusTokens> read_corpus(const CorpusOptions& options, const tokenize::Tokenizer& tok);

}  // namespace sutra::calib
