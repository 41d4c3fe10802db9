#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "support/fixtures.hpp"
#include "sutra/base/half.hpp"
#include "sutra/quant/rtn.hpp"

using namespace sutra;
using namespace sutra::quant;

namespace {

struct Quantized {
    std::vector<uint8_t> codes, zeros;
    std::vector<uint16_t> scales;
    RowStatus status;
    size_t bad = 0;
};

Quantized run(const std::vector<float>& w, int bits, uint32_t g) {
    auto l = make_layout(1, w.size(), bits, g);
    Quantized q;
    q.codes.resize(l.cols);
    q.zeros.resize(l.n_groups);
    q.scales.resize(l.n_groups);
    q.status =
        quantize_row_rtn(w.data(), l, q.codes.data(), q.scales.data(), q.zeros.data(), &q.bad);
    return q;
}

}  // namespace

TEST_CASE("rtn: exact grid values and round half to even", "[quant]") {
    // Range 15 at 4 bits: scale exactly 1, zero 0; 1.5 -> 2, 2.5 -> 2 (ties to even).
    auto q = run({0.0f, 1.5f, 2.5f, 15.0f}, 4, 0);
    REQUIRE(q.status == RowStatus::ok);
    CHECK(f16_to_f32(q.scales[0]) == 1.0f);
    CHECK(q.zeros[0] == 0);
    CHECK(q.codes == std::vector<uint8_t>{0, 2, 2, 15});
}

TEST_CASE("rtn: asymmetric zero point for a negative range", "[quant]") {
    // [-3, 12] at 4 bits: scale 1, zero 3, code = w + 3.
    auto q = run({-3.0f, 0.0f, 4.0f, 12.0f}, 4, 0);
    CHECK(q.zeros[0] == 3);
    CHECK(q.codes == std::vector<uint8_t>{0, 3, 7, 15});
}

TEST_CASE("rtn: reconstruction error is at most half a step inside the range", "[quant]") {
    for (int bits : {3, 4, 8}) {
        const auto w = test::noise(172, 7u + static_cast<uint32_t>(bits), 0.05f);
        auto l = make_layout(1, 172, bits, 32);
        auto q = run(w, bits, 32);
        REQUIRE(q.status == RowStatus::ok);
        std::vector<float> back(172);
        dequantize_row(q.codes.data(), q.scales.data(), q.zeros.data(), l, back.data());
        for (uint64_t g = 0; g < l.n_groups; ++g) {
            const float s = f16_to_f32(q.scales[g]);
            for (uint64_t i = g * l.group; i < g * l.group + l.group_width(g); ++i) {
                REQUIRE(q.codes[i] < (1u << bits));
                // The zero point is rounded, so the grid can be shifted by up to half a step
                // relative to the minimum: allow one step.
                REQUIRE(std::fabs(back[i] - w[i]) <= s * 1.0001f);
            }
        }
    }
}

TEST_CASE("rtn: a constant group gets the minimum scale and reconstructs exactly at 0", "[quant]") {
    auto q = run({0.0f, 0.0f, 0.0f}, 4, 0);
    REQUIRE(q.status == RowStatus::ok);
    CHECK(f16_to_f32(q.scales[0]) > 0.0f);
    CHECK(q.codes == std::vector<uint8_t>{0, 0, 0});
}

TEST_CASE("rtn: NaN, infinity and out-of-range scales are reported with their position",
          "[quant]") {
    auto q = run({0.0f, 1.0f, NAN, 2.0f}, 4, 0);
    CHECK(q.status == RowStatus::not_finite);
    CHECK(q.bad == 2);
    auto r = run({0.0f, INFINITY}, 8, 0);
    CHECK(r.status == RowStatus::not_finite);
    auto big = run({-1e6f, 1e6f}, 4, 0);
    CHECK(big.status == RowStatus::scale_overflow);
}
