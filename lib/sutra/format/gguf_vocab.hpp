#pragma once
// The tokenizer of a model as GGUF metadata (`tokenizer.ggml.*`), the way llama.cpp's
// converter (convert_hf_to_gguf.py, gguf-py vocab.py, examples/convert-llama2c-to-ggml)
// writes it, so that llama.cpp tokenizes as the source tokenizer does (format/GGUF.md,
// "Tokenizer"):
//
//   llama2.c tok512.bin / tokenizer.bin   model "llama": the records' pieces and scores, with
//       ids 0/1/2 renamed <unk>/<s>/</s> (unknown, control, control), an empty piece control,
//       "<0xNN>" byte, spaces written as U+2581; bos 1, eos 2, unk 0.
//   tokenizer.model (SentencePiece)       model "llama": pieces, scores and types from the
//       library (unknown, control, unused, byte, else normal); added_tokens_decoder of
//       tokenizer_config.json as control (special) or user-defined, score -1000.
//   tokenizer.json, byte-level BPE        model "gpt2": the vocabulary by id, added tokens
//       control (special, or spelled <|...|>) or user-defined, merges (pairs joined by a
//       space, a space inside a part written U+0120); no scores.
//   tokenizer.json, BPE with byte_fallback (SentencePiece-style): the tokenizer.model beside
//       it when there is one (as the converter prefers it), else model "llama" with
//       "<0xNN>" tokens byte, specials control and score -(rank + 1) of the merge that forms
//       the token (0 for a token no merge forms): llama.cpp's SentencePiece tokenizer merges
//       the highest-scoring pair first, so this follows the merge list. (The converter's
//       LlamaHfVocab writes -1000 for every token here, which makes llama.cpp merge left to
//       right instead.)
//
// Ids past the tokenizer's, up to config.json's vocab_size, are "[PAD<i>]" unused tokens.
// tokenizer.ggml.pre (byte-level BPE only; "default" for the "llama" model) is decided from
// the pre-tokenizer instead of the converter's hash of a test string's ids: a Split whose
// regex is Qwen2's -> "qwen2", Llama 3's -> "llama-bpe", a ByteLevel pre-tokenizer with its
// built-in GPT-2 regex -> "gpt-2"; anything else -> unsupported (llama.cpp would split the
// text differently from the source tokenizer).
// Special ids as gguf-py's SpecialVocab: tokenizer_config.json's bos/eos/unk/pad token
// strings looked up among tokenizer.json's added tokens, then config.json's *_token_id;
// add_bos/add_eos from the post-processor's template and tokenizer_config.json's
// add_bos_token / add_eos_token. tokenizer_config.json's chat_template (a string) too.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/format/gguf_value.hpp"
#include "sutra/tokenize/discovery.hpp"

namespace sutra::format {

// llama.cpp's token types (llama.h `enum llama_token_type`).
enum class GgufTokenType : int32_t {
    normal = 1,
    unknown = 2,
    control = 3,
    user_defined = 4,
    unused = 5,
    byte = 6,
};

struct GgufVocab {
    std::string model;  // "llama" | "gpt2"
    std::string pre;    // "default", "qwen2", "llama-bpe", "gpt-2"
    std::vector<std::string> tokens;
    std::vector<float> scores;  // "llama" only
    std::vector<int32_t> types;
    std::vector<std::string> merges;  // "gpt2" only
    int64_t bos = -1, eos = -1, unk = -1, pad = -1;
    std::optional<bool> add_bos, add_eos;
    std::optional<std::string> chat_template;
    std::string source;  // "tok512.bin (llama2.c)", for the report
};

struct VocabContext {
    int64_t vocab_size = 0;           // config.json vocab_size (0: the tokenizer's)
    int64_t config_bos = -1;          // config.json bos_token_id
    std::vector<int64_t> config_eos;  // config.json eos_token_id (the first is used)
};

// Reads `file` (and tokenizer_config.json beside it) into the GGUF vocabulary.
// bad_format / unsupported naming the file and the field; invalid_argument when the
// tokenizer has more tokens than vocab_size.
Result<GgufVocab> read_gguf_vocab(const tokenize::TokenizerFile& file, const VocabContext& ctx);

// Appends the tokenizer.ggml.* keys (and tokenizer.chat_template) to `metadata`.
void append_vocab_metadata(const GgufVocab& vocab, GgufMetadata& metadata);

}  // namespace sutra::format
