#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "sutra/base/half.hpp"

using namespace sutra;

TEST_CASE("f16 -> f32 -> f16 is the identity for every non-NaN f16", "[base]") {
    for (uint32_t h = 0; h < 65536; ++h) {
        const auto v = static_cast<uint16_t>(h);
        const float f = f16_to_f32(v);
        if (std::isnan(f)) {
            CHECK(std::isnan(f16_to_f32(f32_to_f16(f))));
            continue;
        }
        REQUIRE(f32_to_f16(f) == v);
    }
}

TEST_CASE("f16 known values and rounding", "[base]") {
    CHECK(f16_to_f32(0x3c00) == 1.0f);
    CHECK(f16_to_f32(0xc000) == -2.0f);
    CHECK(f16_to_f32(0x7bff) == 65504.0f);
    CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));
    CHECK(f32_to_f16(65520.0f) == 0x7c00);  // rounds to infinity
    CHECK(f32_to_f16(65519.0f) == 0x7bff);
    // 1 + 2^-11 is halfway between 1 and the next f16: ties to even -> 1.
    CHECK(f32_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);
    // 1 + 3 * 2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even) -> even.
    CHECK(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);
    CHECK(f32_to_f16(std::ldexp(1.0f, -25)) ==
          0x0000);  // half the smallest subnormal: ties to even (0)
    CHECK(f32_to_f16(std::ldexp(1.5f, -25)) == 0x0001);
    CHECK(f32_to_f16(-0.0f) == 0x8000);
    CHECK(f32_to_f16(std::numeric_limits<float>::infinity()) == 0x7c00);
}

TEST_CASE("bf16 rounds to nearest even and keeps NaN", "[base]") {
    CHECK(bf16_to_f32(0x3f80) == 1.0f);
    CHECK(f32_to_bf16(1.0f) == 0x3f80);
    CHECK(f32_to_bf16(bits_f32(0x3f808000u)) == 0x3f80);  // tie, even stays
    CHECK(f32_to_bf16(bits_f32(0x3f818000u)) == 0x3f82);  // tie, odd rounds up
    CHECK(f32_to_bf16(bits_f32(0x3f808001u)) == 0x3f81);
    CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}
