#pragma once
// The one tokenizer interface the rest of sutra uses: a Hugging Face tokenizer.json
// (hf_tokenizer), a SentencePiece tokenizer.model (sentencepiece_tokenizer), a llama2.c
// tok512.bin (llama2c_tokenizer) or raw bytes. Find one for a model folder with
// discovery.hpp.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sutra::tokenize {

class Tokenizer {
  public:
    virtual ~Tokenizer() = default;

    // Token ids of `text` (UTF-8; invalid bytes are treated as the reference does). With
    // add_special, the special tokens the tokenizer's own post-processing adds (a BOS for
    // Llama/Mistral, nothing for GPT-2/Qwen, "</s>" after the text for T5). Text that spells
    // a special or added token becomes that token in both modes, as in the reference.
    virtual std::vector<int32_t> encode(std::string_view text, bool add_special) const = 0;

    // The text of `ids`; with skip_special, special tokens give no text. Ids outside the
    // vocabulary give no text.
    virtual std::string decode(std::span<const int32_t> ids, bool skip_special) const = 0;

    // One more than the largest id the tokenizer can produce.
    virtual int64_t vocab_size() const = 0;

    // The ids add_special puts before the text (e.g. {BOS}); empty when there are none.
    virtual std::vector<int32_t> leading_special_ids() const = 0;

    // The id of a token spelled exactly `token` (vocabulary or added token), or -1.
    virtual int32_t token_to_id(std::string_view token) const = 0;

    // A short description for inspect and logs: "tokenizer.json: BPE, 32000 tokens".
    virtual std::string describe() const = 0;
};

}  // namespace sutra::tokenize
