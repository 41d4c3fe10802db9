#include "sutra/tokenize/byte_tokenizer.hpp"

namespace sutra::tokenize {

std::vector<int32_t> ByteTokenizer::encode(std::string_view text, bool add_special) const {
    (void)add_special;  // no special tokens
    std::vector<int32_t> ids;
    ids.reserve(text.size());
    for (char c : text)
        ids.push_back(static_cast<int32_t>(static_cast<unsigned char>(c)));
    return ids;
}

std::string ByteTokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
    (void)skip_special;  // no special tokens
    std::string text;
    text.reserve(ids.size());
    for (int32_t id : ids)
        if (id >= 0 && id <= 255) text.push_back(static_cast<char>(static_cast<unsigned char>(id)));
    return text;
}

int32_t ByteTokenizer::token_to_id(std::string_view token) const {
    if (token.size() != 1) return -1;
    return static_cast<int32_t>(static_cast<unsigned char>(token[0]));
}

std::unique_ptr<Tokenizer> make_byte_tokenizer() {
    return std::make_unique<ByteTokenizer>();
}

}  // namespace sutra::tokenize
