// The fused round-to-nearest row kernel (Kernels::rtn_row) of every instruction set this CPU has,
// the scalar table included, against quant/rtn.hpp's reference quantize_row_rtn followed by
// quant/layout.hpp's pack_codes: packed codes, scales and zero points bit-identical, for values
// stored as f32, f16 and bf16, and the same refusals (NaN, infinity, a scale too wide for F16).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "sutra/base/half.hpp"
#include "sutra/quant/layout.hpp"
#include "sutra/quant/rtn.hpp"
#include "sutra/simd/dispatch.hpp"
#include "sutra/simd/kernels.hpp"

using sutra::quant::QuantLayout;
using sutra::simd::Kernels;
using sutra::simd::RowFormat;

namespace {

std::vector<const Kernels*> rtn_tables() {
    std::vector<const Kernels*> out;
    for (const auto& name : sutra::simd::available_isas()) {
        auto k = sutra::simd::kernels_for(name);
        REQUIRE(k.ok());
        out.push_back(*k);
    }
    return out;
}

// A row in one stored format, and its values widened to f32 (what the reference sees).
struct StoredRow {
    RowFormat format = RowFormat::f32;
    std::vector<float> f32;
    std::vector<uint16_t> half;  // f16 or bf16 bits

    const void* data() const {
        return format == RowFormat::f32 ? static_cast<const void*>(f32.data())
                                        : static_cast<const void*>(half.data());
    }
};

// The values as the format stores them (rounded to it), widened back for the reference.
StoredRow store(const std::vector<float>& v, RowFormat format) {
    StoredRow r;
    r.format = format;
    r.f32 = v;
    if (format == RowFormat::f32) return r;
    r.half.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        r.half[i] = format == RowFormat::f16 ? sutra::f32_to_f16(v[i]) : sutra::f32_to_bf16(v[i]);
        r.f32[i] =
            format == RowFormat::f16 ? sutra::f16_to_f32(r.half[i]) : sutra::bf16_to_f32(r.half[i]);
    }
    return r;
}

StoredRow from_halves(std::vector<uint16_t> h) {
    StoredRow r;
    r.format = RowFormat::f16;
    r.f32.resize(h.size());
    for (size_t i = 0; i < h.size(); ++i)
        r.f32[i] = sutra::f16_to_f32(h[i]);
    r.half = std::move(h);
    return r;
}

struct RowOut {
    bool ok = false;
    std::vector<uint8_t> codes, zeros;
    std::vector<uint16_t> scales;
};

RowOut run_kernel(const Kernels& k, const StoredRow& row, const QuantLayout& l) {
    RowOut o;
    // Poisoned outputs: every byte must be written.
    o.codes.assign(l.row_code_bytes, 0xa5);
    o.scales.assign(l.n_groups, 0x5a5a);
    o.zeros.assign(l.n_groups, 0xa5);
    sutra::simd::RtnRow r;
    r.values = row.data();
    r.format = row.format;
    r.cols = l.cols;
    r.group = l.group;
    r.n_groups = l.n_groups;
    r.bits = l.bits;
    r.codes = o.codes.data();
    r.scales = o.scales.data();
    r.zeros = o.zeros.data();
    o.ok = k.rtn_row(r);
    return o;
}

RowOut run_reference(const StoredRow& row, const QuantLayout& l) {
    RowOut o;
    std::vector<uint8_t> codes(l.cols);
    o.scales.resize(l.n_groups);
    o.zeros.resize(l.n_groups);
    size_t bad = 0;
    o.ok = sutra::quant::quantize_row_rtn(row.f32.data(), l, codes.data(), o.scales.data(),
                                          o.zeros.data(), &bad) == sutra::quant::RowStatus::ok;
    o.codes.resize(l.row_code_bytes);
    sutra::quant::pack_codes(codes.data(), l.cols, l.bits, o.codes.data());
    return o;
}

// Every table gives the reference's bytes, or refuses when the reference does.
void check_row(const StoredRow& row, const QuantLayout& l) {
    const RowOut want = run_reference(row, l);
    for (const Kernels* k : rtn_tables()) {
        INFO(k->name << " bits " << l.bits << " cols " << l.cols << " group " << l.group
                     << " format " << static_cast<int>(row.format));
        const RowOut got = run_kernel(*k, row, l);
        REQUIRE(got.ok == want.ok);
        if (!want.ok) continue;
        REQUIRE(got.codes == want.codes);
        REQUIRE(got.scales == want.scales);
        REQUIRE(got.zeros == want.zeros);
    }
}

std::vector<float> normal_values(std::mt19937& rng, size_t n, float spread) {
    std::normal_distribution<float> d(0.0f, spread);
    std::vector<float> v(n);
    for (auto& x : v)
        x = d(rng);
    return v;
}

constexpr RowFormat kFormats[] = {RowFormat::f32, RowFormat::f16, RowFormat::bf16};

}  // namespace

TEST_CASE("rtn_row: every ISA gives the reference's packed bytes", "[simd][rtn]") {
    std::mt19937 rng(17);
    for (RowFormat f : kFormats) {
        for (int bits = 1; bits <= 8; ++bits) {
            for (uint64_t cols : {1u, 2u, 7u, 16u, 31u, 33u, 300u, 301u, 2048u, 2051u}) {
                for (uint32_t group : {32u, 64u, 100u, 128u, 0u, 33u, 7u}) {
                    const auto l = sutra::quant::make_layout(1, cols, bits, group);
                    auto v = normal_values(rng, cols, 0.02f);
                    if (cols > 5) v[5] = 0.0f, v[3] = -0.0f;
                    check_row(store(v, f), l);
                }
            }
        }
    }
}

TEST_CASE("rtn_row: values at and next to the rounding ties", "[simd][rtn]") {
    // Each group's first two values fix its range, hence its scale; the others sit on the
    // half-integer multiples of that scale and on their neighbours, where x / scale rounds
    // either way, so the product by the reciprocal must fall back to the division.
    for (RowFormat f : kFormats) {
        for (int bits : {2, 3, 4, 8}) {
            const float qmax = static_cast<float>((1u << bits) - 1u);
            const uint64_t cols = 512, group = 128;
            const auto l = sutra::quant::make_layout(1, cols, bits, group);
            std::vector<float> v(cols);
            for (uint64_t g = 0; g < l.n_groups; ++g) {
                const float lo = -0.013f * static_cast<float>(g + 1), hi = 0.021f;
                uint16_t s16 = 0;
                float scale = 0, zero = 0;
                REQUIRE(sutra::quant::rtn_group_params(lo, hi, qmax, &s16, &scale, &zero));
                v[g * group] = lo;
                v[g * group + 1] = hi;
                for (uint64_t i = 2; i < group; ++i) {
                    const float k = static_cast<float>(static_cast<int>(i / 3 % 12) - 5);
                    float x = (k + 0.5f) * scale;
                    if (i % 3 == 1) x = std::nextafter(x, 1.0f);
                    if (i % 3 == 2) x = std::nextafter(x, -1.0f);
                    v[g * group + i] = std::clamp(x, lo, hi);
                }
            }
            check_row(store(v, f), l);
        }
    }
}

TEST_CASE("rtn_row: every f16 bit pattern, in order and shuffled", "[simd][rtn]") {
    std::vector<uint16_t> all(65536);
    for (size_t i = 0; i < all.size(); ++i)
        all[i] = static_cast<uint16_t>(i);
    std::vector<uint16_t> shuffled = all;
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(23));
    const uint64_t cols = 256;
    for (const auto* source : {&all, &shuffled}) {
        for (int bits : {1, 2, 3, 4, 8}) {
            for (uint32_t group : {32u, 128u, 0u}) {
                const auto l = sutra::quant::make_layout(1, cols, bits, group);
                for (size_t r = 0; r < source->size() / cols; ++r)
                    check_row(from_halves(std::vector<uint16_t>(
                                  source->begin() + static_cast<std::ptrdiff_t>(r * cols),
                                  source->begin() + static_cast<std::ptrdiff_t>((r + 1) * cols))),
                              l);
            }
        }
    }
}

TEST_CASE("rtn_row: NaN, infinity and overflowing scales are refused on every ISA", "[simd][rtn]") {
    std::mt19937 rng(29);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    for (RowFormat f : kFormats) {
        for (uint64_t cols : {1u, 17u, 300u, 2048u}) {
            const auto l = sutra::quant::make_layout(1, cols, 4, 128);
            const auto v = normal_values(rng, cols, 0.02f);
            for (float bad : {nan, inf, -inf}) {
                for (uint64_t at : {uint64_t{0}, cols / 2, cols - 1}) {
                    auto w = v;
                    w[at] = bad;
                    const StoredRow row = store(w, f);
                    for (const Kernels* k : rtn_tables()) {
                        INFO(k->name << " cols " << cols << " at " << at);
                        CHECK_FALSE(run_kernel(*k, row, l).ok);
                    }
                }
            }
        }
        // A range wider than an F16 scale holds: (hi - lo) / 15 above 65504, or infinite.
        if (f == RowFormat::f16) continue;  // 2 * 65504 / 15 fits (the f16 patterns test has 1 bit)
        for (float big : {6e5f, 3e38f}) {
            auto w = normal_values(rng, 300, 1.0f);
            w[140] = big;
            w[150] = -big;
            check_row(store(w, f), sutra::quant::make_layout(1, 300, 4, 128));
            CHECK_FALSE(run_reference(store(w, f), sutra::quant::make_layout(1, 300, 4, 128)).ok);
        }
    }
}

TEST_CASE("rtn_row: narrow positive groups, huge values and subnormals clamp as the reference",
          "[simd][rtn]") {
    std::mt19937 rng(31);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (RowFormat f : kFormats) {
        for (int bits : {3, 4, 8}) {
            const auto l = sutra::quant::make_layout(1, 512, bits, 64);
            std::vector<float> v(512);
            for (size_t i = 0; i < v.size(); ++i) {
                const size_t g = i / 64;
                const float x = u(rng);
                switch (g) {
                    case 0:
                        v[i] = 1000.0f + x * 1e-3f;
                        break;  // quotients far above qmax
                    case 1:
                        v[i] = -1000.0f - x * 1e-3f;
                        break;  // and far below 0
                    case 2:
                        v[i] = 3e4f;
                        break;  // a constant group
                    case 3:
                        v[i] = (x - 0.5f) * 1e-38f;
                        break;  // f32 subnormals
                    case 4:
                        v[i] = (x - 0.3f) * 6e-5f;
                        break;  // f16 subnormals
                    case 5:
                        v[i] = x < 0.5f ? 0.0f : -0.0f;
                        break;  // signed zeros
                    case 6:
                        v[i] = (x - 0.5f) * 3e4f;
                        break;  // a wide range
                    default:
                        v[i] = 1e3f + (x - 0.5f) * 2e3f;
                        break;  // one sign, wide
                }
            }
            check_row(store(v, f), l);
        }
        // Quotients that overflow f32: a constant group of huge values (scale 1e-5 / qmax).
        if (f != RowFormat::f16) {
            std::vector<float> v(256, 3e38f);
            for (size_t i = 128; i < 256; ++i)
                v[i] = -3e38f;
            check_row(store(v, f), sutra::quant::make_layout(1, 256, 4, 128));
        }
    }
}
