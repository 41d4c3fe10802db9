#pragma once
// A Hugging Face tokenizer.json, run as the `tokenizers` crate (0.23) runs it, behind the
// common Tokenizer interface.
//
// encode(text):  added tokens on the raw text -> normalizer on the text between them ->
//   added tokens with normalized = true on the normalized text -> pre-tokenizer (the piece
//   that starts the input has Piece::first) -> model, piece by piece -> post-processor
//   (special tokens only with add_special). Text that is not valid UTF-8 is first made
//   valid (each ill-formed sequence becomes U+FFFD).
// decode(ids):  each id's token (added tokens first, then the model; unknown ids give
//   nothing; with skip_special, special added tokens are dropped) -> decoder, or the tokens
//   joined by spaces when there is none.
//
// The file's "truncation" and "padding" are ignored: encode() returns the ids of the whole
// text. Every method is const and may be called from several threads at once.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/tokenize/added_vocabulary.hpp"
#include "sutra/tokenize/pipeline.hpp"
#include "sutra/tokenize/tokenizer.hpp"

namespace sutra::tokenize {

class HfTokenizer final : public Tokenizer {
  public:
    std::vector<int32_t> encode(std::string_view text, bool add_special) const override;
    std::string decode(std::span<const int32_t> ids, bool skip_special) const override;
    int64_t vocab_size() const override { return vocab_size_; }
    std::vector<int32_t> leading_special_ids() const override { return leading_; }
    int32_t token_to_id(std::string_view token) const override;
    std::string describe() const override;

    // The token strings of `ids` (added tokens first, then the model; "" for an unknown id).
    std::vector<std::string> id_tokens(std::span<const int32_t> ids) const;
    const Model& model() const { return *model_; }

  private:
    friend Result<std::unique_ptr<HfTokenizer>> parse_hf_tokenizer(std::string_view json_text,
                                                                   const std::string& what);
    HfTokenizer() = default;

    std::string name_;  // for describe(): the file name
    std::unique_ptr<Normalizer> normalizer_;
    std::unique_ptr<PreTokenizer> pre_tokenizer_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<PostProcessor> post_processor_;
    std::unique_ptr<Decoder> decoder_;
    AddedVocabulary added_;
    int64_t vocab_size_ = 0;
    std::vector<int32_t> leading_;
};

// Parses the text of a tokenizer.json. `what` names it in messages, which name the field:
// "tokenizer.json: model.merges[12]: \"a\" is not in the vocabulary".
// Malformed input is bad_format, a component sutra does not implement unsupported, sizes
// past the limits too_large; never an exception or a crash.
Result<std::unique_ptr<HfTokenizer>> parse_hf_tokenizer(std::string_view json_text,
                                                        const std::string& what);

// Reads `path` whole (at most kMaxTokenizerJsonBytes) and parses it.
inline constexpr uint64_t kMaxTokenizerJsonBytes = uint64_t{256} << 20;
Result<std::unique_ptr<HfTokenizer>> load_hf_tokenizer(const std::filesystem::path& path);

}  // namespace sutra::tokenize
