#pragma once
// Elementary functions as plain float arithmetic, so that the loops of the forward passes
// over them vectorise, with results independent of the instruction set (no libm call).
#include <bit>
#include <cstdint>

namespace sutra::model {

// exp(t) for t <= 0 as plain arithmetic, so that loops over it vectorise: t = k ln2 + r with
// k = round(t log2(e)) and |r| <= ln2 / 2 (ln2 in two parts so that k * hi is exact), then
// 2^k (built in the exponent bits) times the degree-7 Taylor polynomial of e^r (relative error
// below 1e-8 there). t below -87 (the result below 2^-125) gives 0, selected with an integer
// compare on the bits (for t <= 0 a larger bit pattern is a more negative number) so that no
// float compare stands in the compiler's way.
inline float exp_nonpositive(float t) {
    constexpr float kLog2e = 1.44269504088896341f;
    constexpr float kLn2Hi = 0.693145751953125f;
    constexpr float kLn2Lo = 1.428606765330187e-06f;
    constexpr float kShift = 12582912.0f;         // 1.5 * 2^23: x + kShift - kShift rounds x
    constexpr uint32_t kLimitBits = 0xc2ae0000u;  // -87.0f
    const uint32_t bits = std::bit_cast<uint32_t>(t);
    const uint32_t in_range = 0u - static_cast<uint32_t>(bits <= kLimitBits);  // all ones: keep
    const float tc = std::bit_cast<float>((bits & in_range) | (kLimitBits & ~in_range));
    const float k = (tc * kLog2e + kShift) - kShift;
    const float r = (tc - k * kLn2Hi) - k * kLn2Lo;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const float two_k =
        std::bit_cast<float>(static_cast<uint32_t>(static_cast<int32_t>(k) + 127) << 23);
    return std::bit_cast<float>(std::bit_cast<uint32_t>(p * two_k) & in_range);
}

}  // namespace sutra::model
