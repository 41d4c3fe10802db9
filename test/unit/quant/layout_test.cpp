#include <catch2/catch.hpp>
#include <vector>

#include "sutra/quant/layout.hpp"

using namespace sutra::quant;

TEST_CASE("layout: groups, ragged last group, whole rows", "[quant]") {
    auto l = make_layout(64, 172, 4, 128);
    CHECK(l.group == 128);
    CHECK(l.n_groups == 2);
    CHECK(l.group_width(0) == 128);
    CHECK(l.group_width(1) == 44);
    CHECK(l.row_code_bytes == 86);
    CHECK(l.row_zero_bytes == 1);
    CHECK(l.total_bytes() == 64 * 86 + 64 * 2 * 2 + 64 * 1);

    auto small = make_layout(10, 64, 4, 128);  // group wider than the row: one group per row
    CHECK(small.group == 64);
    CHECK(small.n_groups == 1);

    auto row = make_layout(3, 100, 8, 0);
    CHECK(row.group == 100);
    CHECK(row.n_groups == 1);

    auto q3 = make_layout(2, 172, 3, 32);
    CHECK(q3.n_groups == 6);
    CHECK(q3.group_width(5) == 12);
    CHECK(q3.row_code_bytes == (172 * 3 + 7) / 8);
    CHECK(q3.row_zero_bytes == 3);
}

TEST_CASE("pack: documented bit order", "[quant]") {
    const uint8_t c4[] = {0x1, 0xf, 0x3};
    uint8_t out4[2] = {0xaa, 0xaa};
    pack_codes(c4, 3, 4, out4);
    CHECK(out4[0] == 0xf1);
    CHECK(out4[1] == 0x03);  // unused high nibble is zero

    const uint8_t c3[] = {1, 2, 3, 4, 5, 6, 7, 0};
    uint8_t out3[3];
    pack_codes(c3, 8, 3, out3);
    // stream: c0 bits 0-2, c1 bits 3-5, c2 bits 6-8 ...
    CHECK(out3[0] == static_cast<uint8_t>(1 | (2 << 3) | ((3 & 3) << 6)));
    CHECK(out3[1] == static_cast<uint8_t>((3 >> 2) | (4 << 1) | (5 << 4) | ((6 & 1) << 7)));
    CHECK(out3[2] == static_cast<uint8_t>((6 >> 1) | (7 << 2) | (0 << 5)));
}

TEST_CASE("pack/unpack round trip for every width and length", "[quant]") {
    for (int bits : {3, 4, 8}) {
        for (size_t n = 1; n <= 67; ++n) {
            std::vector<uint8_t> codes(n), back(n);
            for (size_t i = 0; i < n; ++i)
                codes[i] = static_cast<uint8_t>((i * 37 + n) % (1u << bits));
            std::vector<uint8_t> packed(packed_bytes(n, bits), 0xff);
            pack_codes(codes.data(), n, bits, packed.data());
            unpack_codes(packed.data(), n, bits, back.data());
            REQUIRE(back == codes);
            // Unused trailing bits are zero.
            const size_t used = n * static_cast<size_t>(bits);
            if (used % 8) REQUIRE((packed.back() >> (used % 8)) == 0);
        }
    }
}
