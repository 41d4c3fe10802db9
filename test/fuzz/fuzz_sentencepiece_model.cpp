// libFuzzer target: a SentencePiece model (tokenizer.model) as sutra loads it through
// libsentencepiece (tokenize::SentencePieceTokenizer::parse). Every input must give a
// tokenizer or an error value, never a crash, an exception or unbounded work; an accepted
// model must encode text (here: a fixed sentence and the input's own bytes) to ids inside its
// vocabulary, and decode them again.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sutra/tokenize/sentencepiece_tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto t = sutra::tokenize::SentencePieceTokenizer::parse(std::span<const uint8_t>(data, size),
                                                            "tokenizer.model", {});
    if (!t.ok()) return 0;
    const auto& tok = **t;
    const int64_t vocab = tok.vocab_size();
    if (vocab <= 0) std::abort();
    const std::string_view inputs[] = {
        "Once upon a time, there was a little girl named Lily. <s> 12345 \xe2\x80\x9c\xc3\xa9",
        std::string_view(reinterpret_cast<const char*>(data), size > 256 ? 256 : size)};
    for (auto text : inputs) {
        for (bool special : {false, true}) {
            const auto ids = tok.encode(text, special);
            for (int32_t id : ids)
                if (id < 0 || id >= vocab) std::abort();
            (void)tok.decode(ids, !special);
        }
    }
    return 0;
}
