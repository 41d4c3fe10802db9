#pragma once
// Raw bytes as tokens, for byte-level models with no tokenizer file: token id = byte value
// (0..255). encode adds no special token; decode writes each id's byte back (ids outside
// 0..255 give no text), so decode(encode(s)) == s for every byte string, UTF-8 or not.
#include <memory>

#include "sutra/tokenize/tokenizer.hpp"

namespace sutra::tokenize {

class ByteTokenizer final : public Tokenizer {
  public:
    std::vector<int32_t> encode(std::string_view text, bool add_special) const override;
    std::string decode(std::span<const int32_t> ids, bool skip_special) const override;
    int64_t vocab_size() const override { return 256; }
    std::vector<int32_t> leading_special_ids() const override { return {}; }
    // The byte of a one-byte `token`, else -1.
    int32_t token_to_id(std::string_view token) const override;
    std::string describe() const override { return "bytes: 256 tokens"; }
};

std::unique_ptr<Tokenizer> make_byte_tokenizer();

}  // namespace sutra::tokenize
