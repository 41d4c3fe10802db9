// The packed-weight product kernels (simd/kernels.hpp: quantize_q8, packed_dot_q8,
// packed_dot_f32): every instruction set this CPU has against the scalar reference, bit for
// bit, for 3-, 4- and 8-bit codes, group sizes 32, 64, 128, a whole row and ragged last groups,
// odd numbers of activation rows, zero blocks and extreme values; and the scalar reference
// against an independent double-precision computation written here from the format
// description (quant/layout.hpp: a weight is (code - zero) * scale) and the Q8_0 rule.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "sutra/base/half.hpp"
#include "sutra/quant/layout.hpp"
#include "sutra/simd/dispatch.hpp"
#include "sutra/simd/kernels.hpp"

using sutra::simd::Kernels;
using sutra::simd::kQ8Block;

namespace {

std::vector<const Kernels*> all_tables() {
    std::vector<const Kernels*> out;
    for (const auto& name : sutra::simd::available_isas()) {
        auto k = sutra::simd::kernels_for(name);
        REQUIRE(k.ok());
        out.push_back(*k);
    }
    return out;
}

uint32_t bits_of(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

// A packed matrix as quant/layout.hpp stores it, with its codes and zero points also kept
// unpacked for the reference computations.
struct TestMatrix {
    sutra::quant::QuantLayout layout;
    std::vector<uint8_t> codes, zeros;          // unpacked, [rows, cols] and [rows, n_groups]
    std::vector<uint8_t> packed, packed_zeros;  // as stored
    std::vector<uint16_t> scales;               // F16, [rows, n_groups]

    sutra::simd::PackedRow row(size_t r) const {
        const auto& l = layout;
        sutra::simd::PackedRow w;
        w.codes = packed.data() + r * l.row_code_bytes;
        w.scales = scales.data() + r * l.n_groups;
        w.zeros = packed_zeros.data() + r * l.row_zero_bytes;
        w.cols = l.cols;
        w.group = l.group;
        w.n_groups = l.n_groups;
        w.bits = l.bits;
        return w;
    }
    double weight(size_t r, size_t c) const {  // the documented decoding
        const size_t g = c / layout.group;
        return (double(codes[r * layout.cols + c]) - double(zeros[r * layout.n_groups + g])) *
               double(sutra::f16_to_f32(scales[r * layout.n_groups + g]));
    }
};

// Row 0: every code at its maximum and zero points 0 (the largest integer sums); row 1: codes
// 0 and zero points at the maximum; row 2: the largest F16 scale; row 3: subnormal F16 scales;
// the rest random codes, zero points and scales of both signs.
TestMatrix make_matrix(size_t rows, size_t cols, int bits, uint32_t group, uint32_t seed) {
    TestMatrix m;
    m.layout = sutra::quant::make_layout(rows, cols, bits, group);
    const auto& l = m.layout;
    const uint32_t qmax = (1u << bits) - 1u;
    std::mt19937 rng(seed);
    std::uniform_int_distribution<uint32_t> code(0, qmax);
    std::uniform_real_distribution<float> scale(-0.05f, 0.1f);
    m.codes.assign(rows * cols, 0);
    m.zeros.assign(rows * l.n_groups, 0);
    m.scales.assign(rows * l.n_groups, 0);
    for (size_t r = 0; r < rows; ++r) {
        for (size_t c = 0; c < cols; ++c)
            m.codes[r * cols + c] = static_cast<uint8_t>(r == 0 ? qmax : r == 1 ? 0 : code(rng));
        for (size_t g = 0; g < l.n_groups; ++g) {
            m.zeros[r * l.n_groups + g] = static_cast<uint8_t>(r == 0   ? 0
                                                               : r == 1 ? qmax
                                                                        : code(rng));
            const float s = r == 2 ? 65504.0f : r == 3 ? 3e-7f : scale(rng);
            m.scales[r * l.n_groups + g] = sutra::f32_to_f16(s);
        }
    }
    m.packed.assign(l.qweight_bytes(), 0);
    m.packed_zeros.assign(l.qzeros_bytes(), 0);
    for (size_t r = 0; r < rows; ++r) {
        sutra::quant::pack_codes(m.codes.data() + r * cols, cols, bits,
                                 m.packed.data() + r * l.row_code_bytes);
        sutra::quant::pack_codes(m.zeros.data() + r * l.n_groups, l.n_groups, bits,
                                 m.packed_zeros.data() + r * l.row_zero_bytes);
    }
    return m;
}

// Activation rows [n, cols] with, per row, blocks of special kinds among normal values: all
// zero, one huge value, subnormal values only, a single nonzero value, values of one sign.
std::vector<float> make_activations(size_t n, size_t cols, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(n * cols);
    for (auto& v : x)
        v = nd(rng);
    const size_t blocks = cols / kQ8Block;
    for (size_t t = 0; t < n; ++t) {
        for (size_t b = 0; b < blocks; ++b) {
            float* xb = x.data() + t * cols + b * kQ8Block;
            switch ((b + t) % 7) {
                case 1:
                    std::fill(xb, xb + kQ8Block, 0.0f);
                    break;
                case 2:
                    xb[5] = 3e30f;
                    break;
                case 3:
                    for (size_t i = 0; i < kQ8Block; ++i)
                        xb[i] *= 1e-39f;  // subnormal
                    break;
                case 4:
                    std::fill(xb, xb + kQ8Block, 0.0f);
                    xb[31] = -2.5f;
                    break;
                case 5:
                    for (size_t i = 0; i < kQ8Block; ++i)
                        xb[i] = std::fabs(xb[i]) + 4.0f;
                    break;
                default:
                    break;
            }
        }
    }
    return x;
}

struct Q8 {
    std::vector<int8_t> q;
    std::vector<float> d;
    std::vector<int32_t> sums;
};

Q8 quantize(const Kernels& k, const std::vector<float>& x, size_t n, size_t cols) {
    Q8 a;
    a.q.assign(n * cols, 99);
    a.d.assign(n * cols / kQ8Block, -1.0f);
    a.sums.assign(n * cols / kQ8Block, -1);
    for (size_t t = 0; t < n; ++t)
        k.quantize_q8(x.data() + t * cols, cols, a.q.data() + t * cols,
                      a.d.data() + t * cols / kQ8Block, a.sums.data() + t * cols / kQ8Block);
    return a;
}

// The Q8_0 rule, written out: d = max|x| / 127 in f32; q = the nearest integer to x / d, ties
// to even, within [-127, 127]; zero blocks d = 0, q = 0.
Q8 q8_by_the_rule(const std::vector<float>& x) {
    Q8 a;
    for (size_t b = 0; b < x.size() / kQ8Block; ++b) {
        float amax = 0;
        for (size_t i = 0; i < kQ8Block; ++i)
            amax = std::max(amax, std::fabs(x[b * kQ8Block + i]));
        const float d = amax / 127.0f;
        int32_t sum = 0;
        for (size_t i = 0; i < kQ8Block; ++i) {
            int q = 0;
            if (d > 0) {
                const float r = x[b * kQ8Block + i] / d;
                double f = std::floor(double(r));
                const double frac = double(r) - f;
                if (frac > 0.5 || (frac == 0.5 && std::fmod(f, 2.0) != 0)) f += 1;
                q = static_cast<int>(std::min(127.0, std::max(-127.0, f)));
            }
            a.q.push_back(static_cast<int8_t>(q));
            sum += q;
        }
        a.d.push_back(d);
        a.sums.push_back(sum);
    }
    return a;
}

struct Shape {
    size_t cols;
    uint32_t group;
};

// Every group a multiple of 32 wide (the Q8 kernel's condition), ragged last groups included.
const Shape kQ8Shapes[] = {{32, 32},     {64, 32},    {256, 64},   {512, 128},
                           {320, 0},     {544, 128},  {288, 96},   {1024, 32},
                           {96, 64},     {2048, 128}, {5632, 128}, {2048, 512},
                           {1536, 1024}, {768, 64},   {384, 128},  {1408, 32}};
// Any width, for the f32 kernel.
const Shape kF32Shapes[] = {{1, 0},      {7, 32},    {33, 32},    {100, 64}, {77, 0},
                            {1000, 128}, {544, 128}, {5632, 128}, {130, 16}, {300, 256}};

}  // namespace

TEST_CASE("packed: Q8 activations are the Q8_0 rule, identical on every ISA", "[simd][packed]") {
    const size_t n = 5, cols = 1024;
    const std::vector<float> x = make_activations(n, cols, 3);
    const Q8 rule = q8_by_the_rule(x);
    const Q8 ref = quantize(sutra::simd::scalar_kernels(), x, n, cols);
    CHECK(ref.q == rule.q);
    CHECK(ref.sums == rule.sums);
    size_t bad_d = 0;
    for (size_t b = 0; b < rule.d.size(); ++b)
        bad_d += bits_of(ref.d[b]) != bits_of(rule.d[b]);
    CHECK(bad_d == 0);
    for (const Kernels* k : all_tables()) {
        INFO(k->name);
        const Q8 got = quantize(*k, x, n, cols);
        CHECK(got.q == ref.q);
        CHECK(got.sums == ref.sums);
        size_t bad = 0;
        for (size_t b = 0; b < ref.d.size(); ++b)
            bad += bits_of(got.d[b]) != bits_of(ref.d[b]);
        CHECK(bad == 0);
    }
}

TEST_CASE("packed: a block with a NaN or an infinity gives d = NaN, q = 0 on every ISA",
          "[simd][packed]") {
    std::vector<float> x = make_activations(1, 128, 4);
    x[3] = std::numeric_limits<float>::quiet_NaN();
    x[40] = std::numeric_limits<float>::infinity();
    x[127] = -std::numeric_limits<float>::infinity();
    for (const Kernels* k : all_tables()) {
        INFO(k->name);
        const Q8 a = quantize(*k, x, 1, 128);
        for (size_t b : {0u, 1u, 3u}) {
            CHECK(std::isnan(a.d[b]));
            CHECK(a.sums[b] == 0);
            for (size_t i = 0; i < kQ8Block; ++i)
                CHECK(a.q[b * kQ8Block + i] == 0);
        }
        CHECK(std::isfinite(a.d[2]));
        // A product with such a row is NaN, as it is with f32 activations.
        const TestMatrix m = make_matrix(1, 128, 4, 32, 5);
        float y = 0, yf = 0;
        k->packed_dot_q8(m.row(0), {a.q.data(), a.d.data(), a.sums.data(), 128}, 1, &y, 1);
        k->packed_dot_f32(m.row(0), x.data(), 128, 1, &yf, 1);
        CHECK(std::isnan(y));
        CHECK(std::isnan(yf));
    }
}

TEST_CASE("packed: the Q8 product is bit-identical on every ISA", "[simd][packed]") {
    const auto tables = all_tables();
    for (int bits : {3, 4, 8}) {
        for (const Shape& s : kQ8Shapes) {
            const size_t rows = 6, n_x = 7;  // rows 0-3 are the extreme ones of make_matrix
            const TestMatrix m = make_matrix(rows, s.cols, bits, s.group, 17 + bits);
            const std::vector<float> x = make_activations(n_x, s.cols, 23);
            const Q8 a = quantize(sutra::simd::scalar_kernels(), x, n_x, s.cols);
            const sutra::simd::Q8Rows xr{a.q.data(), a.d.data(), a.sums.data(), s.cols};
            // One call per activation row against one call for all of them, written with a
            // stride: the same bits.
            std::vector<float> ref(rows * n_x);
            for (size_t r = 0; r < rows; ++r)
                for (size_t t = 0; t < n_x; ++t) {
                    const sutra::simd::Q8Rows one{a.q.data() + t * s.cols,
                                                  a.d.data() + t * s.cols / kQ8Block,
                                                  a.sums.data() + t * s.cols / kQ8Block, s.cols};
                    sutra::simd::scalar_kernels().packed_dot_q8(m.row(r), one, 1,
                                                                &ref[t * rows + r], 1);
                }
            for (const Kernels* k : tables) {
                INFO(k->name << ": " << bits << " bits, " << s.cols << " columns, group "
                             << s.group);
                std::vector<float> y(rows * n_x, NAN);
                for (size_t r = 0; r < rows; ++r)
                    k->packed_dot_q8(m.row(r), xr, n_x, y.data() + r, rows);
                size_t bad = 0;
                for (size_t i = 0; i < y.size(); ++i)
                    bad += bits_of(y[i]) != bits_of(ref[i]);
                CHECK(bad == 0);
                // An odd count from the middle.
                std::vector<float> y3(3, NAN);
                const sutra::simd::Q8Rows mid{a.q.data() + 2 * s.cols,
                                              a.d.data() + 2 * s.cols / kQ8Block,
                                              a.sums.data() + 2 * s.cols / kQ8Block, s.cols};
                k->packed_dot_q8(m.row(4), mid, 3, y3.data(), 1);
                for (size_t t = 0; t < 3; ++t)
                    CHECK(bits_of(y3[t]) == bits_of(ref[(2 + t) * rows + 4]));
                // One and two rows with their nibble-order copy (the generation path for
                // 4-bit rows): the same bits.
                if (s.cols % sutra::simd::kQ8NibbleChunk == 0) {
                    std::vector<int8_t> qn(n_x * s.cols, 99);
                    for (size_t t = 0; t < n_x; ++t)
                        sutra::simd::q8_nibble_order(a.q.data() + t * s.cols, s.cols,
                                                     qn.data() + t * s.cols);
                    for (size_t n : {1u, 2u}) {
                        const size_t t0 = 3;
                        const sutra::simd::Q8Rows xn{a.q.data() + t0 * s.cols,
                                                     a.d.data() + t0 * s.cols / kQ8Block,
                                                     a.sums.data() + t0 * s.cols / kQ8Block, s.cols,
                                                     qn.data() + t0 * s.cols};
                        for (size_t r = 0; r < rows; ++r) {
                            std::vector<float> yn(n, NAN);
                            k->packed_dot_q8(m.row(r), xn, n, yn.data(), 1);
                            for (size_t t = 0; t < n; ++t)
                                CHECK(bits_of(yn[t]) == bits_of(ref[(t0 + t) * rows + r]));
                        }
                    }
                }
            }
        }
    }
}

TEST_CASE("packed: the f32 product is bit-identical on every ISA", "[simd][packed]") {
    const auto tables = all_tables();
    for (int bits : {3, 4, 8}) {
        for (const Shape& s : kF32Shapes) {
            const size_t rows = 5, n_x = 3;
            const TestMatrix m = make_matrix(rows, s.cols, bits, s.group, 31 + bits);
            std::mt19937 rng(7);
            std::normal_distribution<float> nd(0.0f, 1.0f);
            const size_t stride = s.cols + 3;  // rows of x apart by more than their width
            std::vector<float> x(n_x * stride);
            for (auto& v : x)
                v = nd(rng);
            x[0] = 1e30f;
            x[stride + s.cols - 1] = 1e-40f;
            std::vector<float> ref(rows * n_x);
            for (size_t r = 0; r < rows; ++r)
                sutra::simd::scalar_kernels().packed_dot_f32(m.row(r), x.data(), stride, n_x,
                                                             ref.data() + r, rows);
            for (const Kernels* k : tables) {
                INFO(k->name << ": " << bits << " bits, " << s.cols << " columns, group "
                             << s.group);
                std::vector<float> y(rows * n_x, NAN);
                for (size_t r = 0; r < rows; ++r)
                    k->packed_dot_f32(m.row(r), x.data(), stride, n_x, y.data() + r, rows);
                size_t bad = 0;
                for (size_t i = 0; i < y.size(); ++i)
                    bad += bits_of(y[i]) != bits_of(ref[i]);
                CHECK(bad == 0);
            }
        }
    }
}

TEST_CASE("packed: the scalar reference agrees with a double-precision product", "[simd][packed]") {
    // Tolerances: the reference sums in f32 (16 partials, then pairwise), so its error is a
    // few units of f32 rounding times the sum of the magnitudes of the terms; 1e-5 of that sum
    // is ~100 ulps of margin.
    const Kernels& ref = sutra::simd::scalar_kernels();
    for (int bits : {3, 4, 8}) {
        for (const Shape& s : kQ8Shapes) {
            INFO(bits << " bits, " << s.cols << " columns, group " << s.group);
            const size_t rows = 6, n_x = 3;
            const TestMatrix m = make_matrix(rows, s.cols, bits, s.group, 41 + bits);
            const std::vector<float> x = make_activations(n_x, s.cols, 43);
            const Q8 rule = q8_by_the_rule(x);
            const Q8 a = quantize(ref, x, n_x, s.cols);
            REQUIRE(a.q == rule.q);
            const size_t nb = s.cols / kQ8Block;
            double worst_q8 = 0, worst_f32 = 0, worst_quant = 0;
            for (size_t r = 0; r < rows; ++r) {
                std::vector<float> y(n_x), yf(n_x);
                ref.packed_dot_q8(m.row(r), {a.q.data(), a.d.data(), a.sums.data(), s.cols}, n_x,
                                  y.data(), 1);
                ref.packed_dot_f32(m.row(r), x.data(), s.cols, n_x, yf.data(), 1);
                for (size_t t = 0; t < n_x; ++t) {
                    // Q8: sum over blocks of d * sum (weight * q), in double.
                    double e = 0, mag = 0, exact = 0, exact_mag = 0, bound = 0;
                    for (size_t b = 0; b < nb; ++b) {
                        const double d = rule.d[t * nb + b];
                        for (size_t i = 0; i < kQ8Block; ++i) {
                            const size_t c = b * kQ8Block + i;
                            const double wv = m.weight(r, c);
                            const double term = wv * d * rule.q[t * s.cols + c];
                            e += term;
                            mag += std::fabs(term);
                            exact += wv * double(x[t * s.cols + c]);
                            exact_mag += std::fabs(wv * double(x[t * s.cols + c]));
                            bound += std::fabs(wv) * d / 2;  // |x - d q| <= d / 2
                        }
                    }
                    worst_q8 = std::max(worst_q8, std::fabs(double(y[t]) - e) / (mag + 1e-300));
                    worst_f32 = std::max(worst_f32,
                                         std::fabs(double(yf[t]) - exact) / (exact_mag + 1e-300));
                    // Q8 against the exact product: within the rounding of the activations
                    // (plus the f32 sums' own error).
                    worst_quant = std::max(worst_quant, std::fabs(double(y[t]) - exact) /
                                                            (bound + 1e-5 * mag + 1e-300));
                }
            }
            CHECK(worst_q8 < 1e-5);
            CHECK(worst_f32 < 1e-5);
            CHECK(worst_quant <= 1.0);
        }
    }
    for (int bits : {3, 4, 8}) {
        for (const Shape& s : kF32Shapes) {
            INFO(bits << " bits, " << s.cols << " columns, group " << s.group);
            const TestMatrix m = make_matrix(4, s.cols, bits, s.group, 51 + bits);
            std::mt19937 rng(9);
            std::normal_distribution<float> nd(0.0f, 1.0f);
            std::vector<float> x(s.cols);
            for (auto& v : x)
                v = nd(rng);
            double worst = 0;
            for (size_t r = 0; r < 4; ++r) {
                float y = 0;
                ref.packed_dot_f32(m.row(r), x.data(), s.cols, 1, &y, 1);
                double e = 0, mag = 0;
                for (size_t c = 0; c < s.cols; ++c) {
                    e += m.weight(r, c) * double(x[c]);
                    mag += std::fabs(m.weight(r, c) * double(x[c]));
                }
                worst = std::max(worst, std::fabs(double(y) - e) / (mag + 1e-300));
            }
            CHECK(worst < 1e-5);
        }
    }
}

TEST_CASE("packed: unpack4 is exact on every ISA for every length", "[simd][packed]") {
    std::mt19937 rng(1);
    for (size_t n : {1u, 2u, 31u, 63u, 64u, 127u, 128u, 129u, 255u, 256u, 1000u, 4099u}) {
        std::vector<uint8_t> in((n + 1) / 2);
        for (auto& b : in)
            b = static_cast<uint8_t>(rng());
        if (n % 2) in.back() &= 0x0f;
        std::vector<uint8_t> want(n);
        sutra::quant::unpack_codes(in.data(), n, 4, want.data());
        for (const Kernels* k : all_tables()) {
            INFO(k->name << ", " << n << " codes");
            std::vector<uint8_t> got(n + 8, 0xee);
            k->unpack4(in.data(), n, got.data());
            CHECK(std::vector<uint8_t>(got.begin(), got.begin() + long(n)) == want);
            CHECK(got[n] == 0xee);  // nothing written past the end
        }
    }
}
