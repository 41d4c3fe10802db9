// libFuzzer target: the tokenizer.json parser (tokenize::parse_hf_tokenizer) and, when it
// accepts the input, encode and decode. Every input must give a tokenizer or an error value,
// never a crash, an exception or unbounded work. An accepted tokenizer is run on a few fixed
// texts (plain, special-looking, invalid UTF-8) and on the input's own first bytes, in both
// modes; every id it produces must be in [0, vocab_size()), and its ids, a range of ids
// around the vocabulary and out-of-range ids are decoded (with and without skip_special).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/tokenize/hf_tokenizer.hpp"

namespace {

void check_ids(const std::vector<int32_t>& ids, int64_t vocab) {
    for (int32_t id : ids)
        if (id < 0 || id >= vocab) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto parsed = sutra::tokenize::parse_hf_tokenizer(text, "tokenizer.json");
    if (!parsed.ok()) {
        if (parsed.error().message.empty()) std::abort();
        return 0;
    }
    const auto& tok = **parsed;
    const int64_t vocab = tok.vocab_size();
    if (vocab <= 0) std::abort();
    check_ids(tok.leading_special_ids(), vocab);
    (void)tok.describe();

    const std::string inputs[] = {
        "",
        "Hello world, it's 2024!  New\nline\ttab",
        "<s>a</s> <unk><|endoftext|> <pad>",
        "\xC3\xA9\xE2\x82\xAC \xF0\x9F\x98\x80 \xE2\x96\x81x \xC4\xA0y",
        "bad \xFF\xC0 utf8 \xE2\x82",
        std::string(text.substr(0, std::min<size_t>(text.size(), 96))),
    };
    std::vector<int32_t> all;
    for (const std::string& in : inputs) {
        for (const bool special : {false, true}) {
            const auto ids = tok.encode(in, special);
            check_ids(ids, vocab);
            (void)tok.decode(ids, false);
            (void)tok.decode(ids, true);
            all.insert(all.end(), ids.begin(), ids.end());
        }
    }
    std::vector<int32_t> probe = {-1, INT32_MIN, INT32_MAX, static_cast<int32_t>(vocab)};
    for (int32_t id = 0; id < std::min<int64_t>(vocab, 300); ++id)
        probe.push_back(id);
    (void)tok.decode(probe, false);
    (void)tok.decode(probe, true);
    (void)tok.decode(all, false);
    (void)tok.token_to_id("<s>");
    return 0;
}
