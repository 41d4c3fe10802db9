// AutoAWQ GEMM word packing (format/autoawq_layout.hpp): a hand-computed word, the round trip,
// the transposition of codes and scales, and what the layout refuses.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "sutra/format/autoawq_layout.hpp"

using namespace sutra::format::autoawq;

TEST_CASE("AutoAWQ word: nibble i holds column [0,2,4,6,1,3,5,7][i]", "[autoawq]") {
    // Columns 0..7 hold 1..8: nibbles from the lowest are 1,3,5,7,2,4,6,8.
    const uint8_t v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(pack_word(v) == 0x86427531u);
    CHECK(static_cast<int32_t>(pack_word(v)) == -2042464975);
    const uint8_t one_hot[8] = {0, 0, 0, 15, 0, 0, 0, 0};  // column 3 -> nibble 5
    CHECK(pack_word(one_hot) == 0x00F00000u);
    uint8_t back[8] = {};
    unpack_word(0x86427531u, back);
    for (int t = 0; t < 8; ++t)
        CHECK(back[t] == t + 1);
}

TEST_CASE("AutoAWQ transposed packing round trip", "[autoawq]") {
    const uint64_t out = 24, width = 5;
    std::vector<uint8_t> m(out * width);
    for (size_t i = 0; i < m.size(); ++i)
        m[i] = static_cast<uint8_t>((i * 7 + 3) % 16);
    std::vector<uint32_t> words(width * out / 8);
    pack_transposed(m.data(), out, width, words.data());
    // words[x * 3 + j] packs outputs 8j..8j+7 at position x.
    for (uint64_t x = 0; x < width; ++x)
        for (uint64_t j = 0; j < out / 8; ++j) {
            uint8_t v[8];
            for (uint64_t t = 0; t < 8; ++t)
                v[t] = m[(8 * j + t) * width + x];
            CHECK(words[x * (out / 8) + j] == pack_word(v));
        }
    std::vector<uint8_t> back(m.size());
    unpack_transposed(words.data(), out, width, back.data());
    CHECK(back == m);
}

TEST_CASE("AutoAWQ scales transpose", "[autoawq]") {
    const std::vector<uint16_t> s = {1, 2, 3, 4, 5, 6};  // [2, 3]
    std::vector<uint16_t> t(6);
    transpose_u16(s.data(), 2, 3, t.data());
    CHECK(t == std::vector<uint16_t>{1, 4, 2, 5, 3, 6});  // [3, 2]
}

TEST_CASE("AutoAWQ layout: what it cannot hold", "[autoawq]") {
    CHECK(unsupported_reason(64, 128, 4, 32, 32).empty());
    CHECK(unsupported_reason(64, 256, 4, 256, 256).empty());
    CHECK_THAT(unsupported_reason(64, 128, 8, 32, 32), Catch::Contains("8-bit"));
    CHECK_THAT(unsupported_reason(64, 128, 3, 32, 32), Catch::Contains("3-bit"));
    CHECK_THAT(unsupported_reason(64, 128, 4, 0, 128), Catch::Contains("row"));
    CHECK_THAT(unsupported_reason(64, 172, 4, 32, 32), Catch::Contains("172"));
    CHECK_THAT(unsupported_reason(64, 64, 4, 128, 64), Catch::Contains("does not divide"));
    CHECK_THAT(unsupported_reason(36, 64, 4, 32, 32), Catch::Contains("multiple of 8"));
}
