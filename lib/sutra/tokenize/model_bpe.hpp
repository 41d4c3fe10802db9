#pragma once
// The BPE model of tokenizer.json, as the `tokenizers` crate's models/bpe runs it:
//   - each character of a piece becomes its vocabulary token (with continuing_subword_prefix
//     before every character but the first, end_of_word_suffix after the last);
//   - a character not in the vocabulary becomes its bytes' "<0xNN>" tokens (byte_fallback,
//     when all of them exist), else unk_token (fused into one with fuse_unk), else nothing;
//   - adjacent pairs are merged by rank, lowest first and leftmost on ties, with a priority
//     queue (O(n log n) per piece);
//   - with ignore_merges, a piece that is itself a token is that token.
// merges are "a b" strings or ["a", "b"] pairs; each pair and its result must be tokens.
// dropout must be null, 0 or 1 (1 merges nothing): any other value makes the crate's output
// random, so it is refused (unsupported). Where the crate fails an encode (unk_token is not
// in the vocabulary and a character needs it), sutra drops the character instead.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "sutra/base/error.hpp"
#include "sutra/tokenize/pipeline.hpp"

namespace sutra::tokenize {

// `j` is the "model" object (type "BPE"); `what` its path ("tokenizer.json: model").
Result<std::unique_ptr<Model>> make_bpe_model(const nlohmann::json& j, const std::string& what);

}  // namespace sutra::tokenize
