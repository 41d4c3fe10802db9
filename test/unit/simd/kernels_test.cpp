// Every SIMD kernel table against the scalar reference, on every instruction set this CPU has:
// codes, scales, zero points, conversions and sums bit-identical; the reference sums within a
// stated tolerance of plain f64 sums.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "sutra/base/half.hpp"
#include "sutra/quant/layout.hpp"
#include "sutra/quant/rtn.hpp"
#include "sutra/simd/dispatch.hpp"
#include "sutra/simd/kernels.hpp"

using sutra::simd::Kernels;

namespace {

std::vector<const Kernels*> simd_tables() {
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

std::vector<float> random_values(std::mt19937& rng, size_t n, float spread) {
    std::normal_distribution<float> d(0.0f, spread);
    std::vector<float> v(n);
    for (auto& x : v)
        x = d(rng);
    return v;
}

const size_t kLengths[] = {1,  2,  3,   7,   15,  16,   17,   31,   32,   33,   63,
                           64, 65, 127, 128, 129, 1000, 1023, 1024, 1025, 2048, 3001};

}  // namespace

TEST_CASE("the scalar table is always available and listed last", "[simd]") {
    const auto isas = sutra::simd::available_isas();
    REQUIRE_FALSE(isas.empty());
    CHECK(isas.back() == "scalar");
    CHECK_FALSE(sutra::simd::kernels_for("no-such-isa").ok());
    CHECK(sutra::simd::set_isa("scalar").ok());
    CHECK(std::string(sutra::simd::active().name) == "scalar");
    CHECK(sutra::simd::set_isa("auto").ok());
    CHECK(std::string(sutra::simd::active().name) == isas.front());
}

TEST_CASE("f16 and bf16 conversion is exact for all 65536 bit patterns on every ISA", "[simd]") {
    std::vector<uint16_t> all(65536 + 5);
    for (size_t i = 0; i < all.size(); ++i)
        all[i] = static_cast<uint16_t>(i);
    for (const Kernels* k : simd_tables()) {
        INFO(k->name);
        std::vector<float> out(all.size()), bout(all.size());
        k->f16_to_f32(all.data(), out.data(), all.size());
        k->bf16_to_f32(all.data(), bout.data(), all.size());
        size_t bad = 0, bbad = 0;
        for (size_t i = 0; i < all.size(); ++i) {
            bad += bits_of(out[i]) != bits_of(sutra::f16_to_f32(all[i]));
            bbad += bits_of(bout[i]) != bits_of(sutra::bf16_to_f32(all[i]));
        }
        CHECK(bad == 0);
        CHECK(bbad == 0);
        // In place: 16-bit values in the upper half of the f32 buffer, widened from the front.
        for (size_t n : kLengths) {
            std::vector<float> buf(n);
            auto* raw = reinterpret_cast<uint16_t*>(buf.data()) + n;
            for (size_t i = 0; i < n; ++i)
                raw[i] = static_cast<uint16_t>(i * 2654435761u >> 7);
            std::vector<uint16_t> copy(raw, raw + n);
            k->f16_to_f32(raw, buf.data(), n);
            for (size_t i = 0; i < n; ++i)
                REQUIRE(bits_of(buf[i]) == bits_of(sutra::f16_to_f32(copy[i])));
        }
    }
}

TEST_CASE("min_max matches the reference and refuses NaN and infinity", "[simd]") {
    std::mt19937 rng(7);
    const Kernels& ref = sutra::simd::scalar_kernels();
    for (const Kernels* k : simd_tables()) {
        INFO(k->name);
        for (size_t n : kLengths) {
            auto v = random_values(rng, n, 3.0f);
            float lo = 0, hi = 0, rlo = 0, rhi = 0;
            REQUIRE(k->min_max(v.data(), n, &lo, &hi));
            REQUIRE(ref.min_max(v.data(), n, &rlo, &rhi));
            CHECK(lo == rlo);
            CHECK(hi == rhi);
            for (float bad :
                 {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity()}) {
                for (size_t at : {size_t{0}, n / 2, n - 1}) {
                    auto w = v;
                    w[at] = bad;
                    CHECK_FALSE(k->min_max(w.data(), n, &lo, &hi));
                }
            }
        }
    }
}

TEST_CASE("quantize, dequantize and 4-bit packing are bit-identical to the reference", "[simd]") {
    std::mt19937 rng(11);
    const Kernels& ref = sutra::simd::scalar_kernels();
    for (const Kernels* k : simd_tables()) {
        INFO(k->name);
        for (size_t n : kLengths) {
            for (float qmax : {7.0f, 15.0f, 255.0f}) {
                auto v = random_values(rng, n, 0.05f);
                const float scale = 0.1f / qmax, zero = std::floor(qmax / 2);
                // Exact ties (k + 0.5) * scale, which must round half to even, and values far
                // outside the range, which must clamp.
                for (size_t i = 0; i < n; i += 3)
                    v[i] = (static_cast<float>(static_cast<int>(i % 9) - 4) + 0.5f) * scale;
                if (n > 4) v[1] = 1e3f, v[2] = -1e3f;
                std::vector<uint8_t> c(n), rc(n);
                k->quantize(v.data(), n, scale, zero, qmax, c.data());
                ref.quantize(v.data(), n, scale, zero, qmax, rc.data());
                REQUIRE(c == rc);
                std::vector<float> d(n), rd(n);
                k->dequantize(c.data(), n, scale, zero, d.data());
                ref.dequantize(c.data(), n, scale, zero, rd.data());
                for (size_t i = 0; i < n; ++i)
                    REQUIRE(bits_of(d[i]) == bits_of(rd[i]));
            }
            std::vector<uint8_t> codes(n);
            for (auto& c : codes)
                c = static_cast<uint8_t>(rng() & 15u);
            std::vector<uint8_t> p((n + 1) / 2, 0xaa), rp((n + 1) / 2, 0x55);
            k->pack4(codes.data(), n, p.data());
            sutra::quant::pack_codes(codes.data(), n, 4, rp.data());
            REQUIRE(p == rp);
            std::vector<uint8_t> back(n);
            k->unpack4(p.data(), n, back.data());
            REQUIRE(back == codes);
        }
    }
}

TEST_CASE("whole rows quantize to the reference's codes, scales and zero points", "[simd]") {
    std::mt19937 rng(3);
    for (const Kernels* k : simd_tables()) {
        INFO(k->name);
        for (int bits : {3, 4, 8}) {
            for (uint32_t group : {32u, 64u, 100u, 128u, 0u}) {
                const uint64_t cols = 300;
                const auto l = sutra::quant::make_layout(1, cols, bits, group);
                auto w = random_values(rng, cols, 0.02f);
                w[5] = 0.0f;
                std::vector<uint8_t> c(cols), rc(cols), z(l.n_groups), rz(l.n_groups);
                std::vector<uint16_t> s(l.n_groups), rs(l.n_groups);
                size_t bad = 0, rbad = 0;
                REQUIRE(sutra::quant::quantize_row_rtn(*k, w.data(), l, c.data(), s.data(),
                                                       z.data(),
                                                       &bad) == sutra::quant::RowStatus::ok);
                REQUIRE(sutra::quant::quantize_row_rtn(w.data(), l, rc.data(), rs.data(), rz.data(),
                                                       &rbad) == sutra::quant::RowStatus::ok);
                CHECK(c == rc);
                CHECK(s == rs);
                CHECK(z == rz);
                w[77] = std::numeric_limits<float>::quiet_NaN();
                CHECK(sutra::quant::quantize_row_rtn(*k, w.data(), l, c.data(), s.data(), z.data(),
                                                     &bad) == sutra::quant::RowStatus::not_finite);
                CHECK(bad == 77);
            }
        }
    }
}

TEST_CASE("sums are bit-identical across ISAs and within 1e-5 of plain f64 sums", "[simd]") {
    std::mt19937 rng(5);
    const Kernels& ref = sutra::simd::scalar_kernels();
    for (size_t n : kLengths) {
        const auto a = random_values(rng, n, 1.0f);
        auto b = a;
        for (auto& x : b)
            x += std::normal_distribution<float>(0.0f, 0.01f)(rng);
        sutra::simd::ErrorSums rs;
        ref.error_sums(a.data(), b.data(), n, &rs);
        const double rdot = ref.dot(a.data(), b.data(), n);
        const double rsq = ref.sq_diff(a.data(), b.data(), n);
        double naive_dot = 0, naive_sq = 0, naive_ref = 0;
        for (size_t i = 0; i < n; ++i) {
            naive_dot += static_cast<double>(a[i]) * static_cast<double>(b[i]);
            const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
            naive_sq += d * d;
            naive_ref += static_cast<double>(a[i]) * static_cast<double>(a[i]);
        }
        CHECK(rdot == Approx(naive_dot).epsilon(1e-5).margin(1e-6));
        CHECK(rsq == Approx(naive_sq).epsilon(1e-5));
        CHECK(rs.sq_err == Approx(naive_sq).epsilon(1e-5));
        CHECK(rs.sq_ref == Approx(naive_ref).epsilon(1e-5));
        for (const Kernels* k : simd_tables()) {
            INFO(k->name << " n=" << n);
            sutra::simd::ErrorSums s;
            k->error_sums(a.data(), b.data(), n, &s);
            CHECK(std::memcmp(&s, &rs, sizeof s) == 0);
            CHECK(k->dot(a.data(), b.data(), n) == rdot);
            CHECK(k->sq_diff(a.data(), b.data(), n) == rsq);
        }
    }
}
