// GGUF tensor types (quant/ggml_types.hpp): the type table, blocks with bytes derived by hand
// from the layout in format/GGUF.md, round-trip error bounds, determinism and refusals.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "sutra/base/half.hpp"
#include "sutra/quant/ggml_types.hpp"

using namespace sutra;
using namespace sutra::quant;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes encode(GgmlType t, const std::vector<float>& x, const std::vector<float>* w = nullptr) {
    Bytes out(ggml_row_bytes(t, x.size()), 0xAA);
    const auto st = ggml_quantize_row(t, x.data(), x.size(), w ? w->data() : nullptr, out.data());
    INFO((st.ok() ? "" : st.error().message));
    REQUIRE(st.ok());
    return out;
}

std::vector<float> decode(GgmlType t, const Bytes& b, size_t cols) {
    std::vector<float> y(cols);
    ggml_dequantize_row(t, b.data(), cols, y.data());
    return y;
}

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 0.02f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, sigma);
    std::vector<float> v(n);
    for (auto& x : v)
        x = d(rng);
    return v;
}

// Student-t with 3 degrees of freedom: rare large outliers, like real weight rows.
std::vector<float> heavy_tailed(size_t n, uint32_t seed, float sigma = 0.02f) {
    std::mt19937 rng(seed);
    std::student_t_distribution<float> d(3.0f);
    std::vector<float> v(n);
    for (auto& x : v)
        x = sigma * d(rng);
    return v;
}

std::vector<float> importance(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::lognormal_distribution<float> d(0.0f, 1.5f);
    std::vector<float> v(n);
    for (auto& x : v)
        x = d(rng);
    return v;
}

void put16(Bytes& b, size_t off, float v) {
    const uint16_t h = f32_to_f16(v);
    b[off] = static_cast<uint8_t>(h & 0xff);
    b[off + 1] = static_cast<uint8_t>(h >> 8);
}

const std::vector<GgmlType> kQuantTypes = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                                           GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q4_K,
                                           GgmlType::Q5_K, GgmlType::Q6_K};

}  // namespace

TEST_CASE("ggml: type table, names and row sizes", "[ggml]") {
    REQUIRE(ggml_types().size() == 10);
    struct Row {
        GgmlType t;
        uint32_t id, elems, bytes;
        const char* name;
    };
    const Row rows[] = {
        {GgmlType::F32, 0, 1, 4, "F32"},        {GgmlType::F16, 1, 1, 2, "F16"},
        {GgmlType::Q4_0, 2, 32, 18, "Q4_0"},    {GgmlType::Q4_1, 3, 32, 20, "Q4_1"},
        {GgmlType::Q5_0, 6, 32, 22, "Q5_0"},    {GgmlType::Q5_1, 7, 32, 24, "Q5_1"},
        {GgmlType::Q8_0, 8, 32, 34, "Q8_0"},    {GgmlType::Q4_K, 12, 256, 144, "Q4_K"},
        {GgmlType::Q5_K, 13, 256, 176, "Q5_K"}, {GgmlType::Q6_K, 14, 256, 210, "Q6_K"}};
    for (const auto& r : rows) {
        const GgmlTypeInfo* info = find_ggml_type(r.id);
        REQUIRE(info);
        CHECK(info->type == r.t);
        CHECK(info->block_elems == r.elems);
        CHECK(info->block_bytes == r.bytes);
        CHECK(std::string(info->name) == r.name);
        CHECK(parse_ggml_type(r.name) == r.t);
        CHECK(ggml_row_bytes(r.t, 512) == 512 / r.elems * r.bytes);
    }
    CHECK(parse_ggml_type("q4_k") == GgmlType::Q4_K);
    CHECK(parse_ggml_type("f16") == GgmlType::F16);
    CHECK_FALSE(parse_ggml_type("Q4_K_M"));
    CHECK_FALSE(parse_ggml_type(""));
    CHECK(find_ggml_type(4) == nullptr);  // Q4_2, removed from ggml
    CHECK(find_ggml_type(99) == nullptr);
    CHECK(ggml_row_fits(GgmlType::Q4_0, 64));
    CHECK_FALSE(ggml_row_fits(GgmlType::Q4_0, 48));
    CHECK_FALSE(ggml_row_fits(GgmlType::Q4_K, 288));
    CHECK(ggml_row_fits(GgmlType::F16, 7));
}

TEST_CASE("ggml: Q8_0 block, bytes derived by hand", "[ggml]") {
    // x[0] = 127/64 is the max |x|: d = 1/64 (f16 0x2400), 1/d = 64 exactly; q = roundf(64 x):
    // -2.5 -> -3 and 2.5 -> 3 (half away from zero), (7j - 110 + 0.25) -> 7j - 110.
    std::vector<float> x(32);
    x[0] = 127.0f / 64;
    x[1] = -2.5f / 64;
    x[2] = 2.5f / 64;
    for (int j = 3; j < 32; ++j)
        x[j] = (7.0f * j - 110.0f + 0.25f) / 64;
    Bytes want = {0x00, 0x24, 0x7f, 0xfd, 0x03, 0xa7, 0xae, 0xb5, 0xbc, 0xc3, 0xca, 0xd1,
                  0xd8, 0xdf, 0xe6, 0xed, 0xf4, 0xfb, 0x02, 0x09, 0x10, 0x17, 0x1e, 0x25,
                  0x2c, 0x33, 0x3a, 0x41, 0x48, 0x4f, 0x56, 0x5d, 0x64, 0x6b};
    const Bytes got = encode(GgmlType::Q8_0, x);
    CHECK(got == want);
    const auto y = decode(GgmlType::Q8_0, got, 32);
    CHECK(y[0] == x[0]);
    CHECK(y[1] == -3.0f / 64);
    CHECK(y[5] == (7.0f * 5 - 110.0f) / 64);
}

TEST_CASE("ggml: Q4_0 block, bytes derived by hand", "[ggml]") {
    // x[j] = (j - 16) / 4: the first max-|x| element is x[0] = -4, d = -4 / -8 = 0.5 (f16
    // 0x3800), q = min(15, trunc(2 x + 8.5)) = min(15, (j + 1) / 2); element j in the low
    // nibble of byte j, element j + 16 in its high nibble.
    std::vector<float> x(32);
    for (int j = 0; j < 32; ++j)
        x[j] = 0.25f * static_cast<float>(j - 16);
    const Bytes want = {0x00, 0x38, 0x80, 0x91, 0x91, 0xa2, 0xa2, 0xb3, 0xb3,
                        0xc4, 0xc4, 0xd5, 0xd5, 0xe6, 0xe6, 0xf7, 0xf7, 0xf8};
    const Bytes got = encode(GgmlType::Q4_0, x);
    CHECK(got == want);
    const auto y = decode(GgmlType::Q4_0, got, 32);
    CHECK(y[0] == -4.0f);
    CHECK(y[1] == -3.5f);  // -7.5 rounds up (trunc of + 8.5)
    CHECK(y[31] == 3.5f);  // 3.75 clipped to code 15
    CHECK(y[16] == 0.0f);
}

TEST_CASE("ggml: Q4_1, Q5_0, Q5_1 blocks, bytes derived by hand", "[ggml]") {
    SECTION("Q4_1") {
        // min -1, max 2.75: d = 3.75 / 15 = 0.25 (0x3400), m = -1 (0xbc00), q = 4 (x + 1).
        std::vector<float> x(32);
        for (int j = 0; j < 16; ++j) {
            x[j] = 0.25f * j - 1.0f;
            x[j + 16] = 0.25f * (15 - j) - 1.0f;
        }
        Bytes want = {0x00, 0x34, 0x00, 0xbc};
        for (int j = 0; j < 16; ++j)
            want.push_back(static_cast<uint8_t>(j | ((15 - j) << 4)));
        const Bytes got = encode(GgmlType::Q4_1, x);
        CHECK(got == want);
        CHECK(decode(GgmlType::Q4_1, got, 32) == x);
    }
    SECTION("Q5_0") {
        // x[j] = (j - 16) / 8: x[0] = -2 first max, d = 0.125 (0x3000), q = j; bit 4 of the
        // codes (elements 16..31) in bits 16..31 of the little-endian qh.
        std::vector<float> x(32);
        for (int j = 0; j < 32; ++j)
            x[j] = 0.125f * static_cast<float>(j - 16);
        Bytes want = {0x00, 0x30, 0x00, 0x00, 0xff, 0xff};
        for (int j = 0; j < 16; ++j)
            want.push_back(static_cast<uint8_t>(j | (j << 4)));
        const Bytes got = encode(GgmlType::Q5_0, x);
        CHECK(got == want);
        CHECK(decode(GgmlType::Q5_0, got, 32) == x);
    }
    SECTION("Q5_1") {
        // min -3, max 4.75: d = 7.75 / 31 = 0.25, m = -3 (0xc200), q = j.
        std::vector<float> x(32);
        for (int j = 0; j < 32; ++j)
            x[j] = 0.25f * j - 3.0f;
        Bytes want = {0x00, 0x34, 0x00, 0xc2, 0x00, 0x00, 0xff, 0xff};
        for (int j = 0; j < 16; ++j)
            want.push_back(static_cast<uint8_t>(j | (j << 4)));
        const Bytes got = encode(GgmlType::Q5_1, x);
        CHECK(got == want);
        CHECK(decode(GgmlType::Q5_1, got, 32) == x);
    }
}

TEST_CASE("ggml: k-quant decoders on blocks built by hand from the layout", "[ggml]") {
    const int sc[8] = {1, 2, 3, 4, 33, 40, 63, 17};
    const int mb[8] = {0, 5, 10, 15, 20, 48, 1, 62};
    Bytes table(12, 0);
    for (int j = 0; j < 4; ++j) {
        table[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
        table[j + 4] = static_cast<uint8_t>(mb[j] | ((mb[j + 4] >> 4) << 6));
        table[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mb[j + 4] & 15) << 4));
    }
    const float d = 0.5f, dmin = 0.25f;
    SECTION("Q4_K") {
        Bytes b(144, 0);
        put16(b, 0, d);
        put16(b, 2, dmin);
        std::copy(table.begin(), table.end(), b.begin() + 4);
        for (int c = 0; c < 4; ++c)
            for (int l = 0; l < 32; ++l)
                b[16 + 32 * c + l] = static_cast<uint8_t>((l % 16) | ((15 - l % 16) << 4));
        const auto y = decode(GgmlType::Q4_K, b, 256);
        for (int e = 0; e < 256; ++e) {
            const int c = e / 64, l = e % 32, j = e / 32;
            const int q = (e % 64) < 32 ? l % 16 : 15 - l % 16;
            INFO("element " << e);
            CHECK(y[e] == d * sc[j] * q - dmin * mb[j]);
            (void)c;
        }
    }
    SECTION("Q5_K") {
        Bytes b(176, 0);
        put16(b, 0, d);
        put16(b, 2, dmin);
        std::copy(table.begin(), table.end(), b.begin() + 4);
        for (int l = 0; l < 32; ++l)
            b[16 + l] = static_cast<uint8_t>(l % 2 ? 0xaa : 0x55);  // high bits alternate
        for (int c = 0; c < 4; ++c)
            for (int l = 0; l < 32; ++l)
                b[48 + 32 * c + l] = static_cast<uint8_t>((l % 16) | ((15 - l % 16) << 4));
        const auto y = decode(GgmlType::Q5_K, b, 256);
        for (int e = 0; e < 256; ++e) {
            const int l = e % 32, j = e / 32;
            const bool high_half = (e % 64) >= 32;  // bit 2c+1 of qh[l], else bit 2c
            const int nib = high_half ? 15 - l % 16 : l % 16;
            const int hbit = (l % 2) ? (high_half ? 1 : 0) : (high_half ? 0 : 1);
            INFO("element " << e);
            CHECK(y[e] == d * sc[j] * (nib + 16 * hbit) - dmin * mb[j]);
        }
    }
    SECTION("Q6_K") {
        Bytes b(210, 0);
        for (int h = 0; h < 2; ++h)
            for (int l = 0; l < 32; ++l) {
                b[64 * h + l] = static_cast<uint8_t>(l % 16 | ((15 - l % 16) << 4));
                b[64 * h + 32 + l] = static_cast<uint8_t>((l + h) % 16 | ((l % 3) << 4));
                b[128 + 32 * h + l] = static_cast<uint8_t>(0x1b ^ l);  // 2-bit fields vary
            }
        const int8_t sc16[16] = {-128, 127, 1, -1, 5, 60, -60, 2, 3, 4, 7, -9, 11, 100, -100, 0};
        std::memcpy(b.data() + 192, sc16, 16);
        put16(b, 208, 0.125f);
        const auto y = decode(GgmlType::Q6_K, b, 256);
        for (int e = 0; e < 256; ++e) {
            const int h = e / 128, r = e % 128, l = r % 32, part = r / 32;  // part 0..3
            const uint8_t a = b[64 * h + l], bb = b[64 * h + 32 + l], hb = b[128 + 32 * h + l];
            const int lowbits[4] = {a & 15, bb & 15, a >> 4, bb >> 4};
            const int code = lowbits[part] | (((hb >> (2 * part)) & 3) << 4);
            INFO("element " << e);
            CHECK(y[e] ==
                  0.125f * static_cast<float>(sc16[e / 16]) * static_cast<float>(code - 32));
        }
    }
}

TEST_CASE("ggml: k-quant encoders recover blocks that lie on their grid", "[ggml]") {
    SECTION("Q4_K / Q5_K: x = (63/64) q, every sub-block spanning 0..nmax") {
        for (const auto t : {GgmlType::Q4_K, GgmlType::Q5_K}) {
            const int nmax = t == GgmlType::Q4_K ? 15 : 31;
            std::vector<float> x(256);
            for (int i = 0; i < 256; ++i) {
                const int q = (i % 32 == 0) ? 0 : (i % 32 == 1) ? nmax : (i * 7) % (nmax + 1);
                x[i] = 63.0f / 64.0f * static_cast<float>(q);
            }
            const Bytes b = encode(t, x);
            CHECK(decode(t, b, 256) == x);
        }
    }
    SECTION("Q6_K: x = -2 q, every sub-block holding q = -32") {
        std::vector<float> x(256);
        for (int i = 0; i < 256; ++i) {
            const int q = (i % 16 == 0) ? -32 : (i * 13) % 64 - 32;
            x[i] = -2.0f * static_cast<float>(q);
        }
        const Bytes b = encode(GgmlType::Q6_K, x);
        CHECK(decode(GgmlType::Q6_K, b, 256) == x);
    }
}

TEST_CASE("ggml: round trip error bounds per type", "[ggml]") {
    // Relative RMS error on gaussian rows (measured: Q4_0 0.084, Q4_1 0.077, Q5_0 0.042,
    // Q5_1 0.037, Q8_0 0.0052, Q4_K 0.069 (0.076 weighted), Q5_K 0.034, Q6_K 0.017), and no
    // decoded value off by more than its block's span.
    struct Bound {
        GgmlType t;
        double rel_rms;  // RMS error / RMS of x, gaussian rows
    };
    const Bound bounds[] = {{GgmlType::Q4_0, 0.10},  {GgmlType::Q4_1, 0.09},
                            {GgmlType::Q5_0, 0.05},  {GgmlType::Q5_1, 0.045},
                            {GgmlType::Q8_0, 0.006}, {GgmlType::Q4_K, 0.085},
                            {GgmlType::Q5_K, 0.042}, {GgmlType::Q6_K, 0.021}};
    const size_t cols = 4096;
    SECTION("quantized types, plain and weighted") {
        for (int weighted = 0; weighted < 2; ++weighted) {
            for (const auto& bd : bounds) {
                const auto x = gaussian(cols, 7);
                const auto w = importance(cols, 8);
                const Bytes b = encode(bd.t, x, weighted ? &w : nullptr);
                const auto y = decode(bd.t, b, cols);
                double se = 0, sx = 0;
                const uint32_t be = ggml_type_info(bd.t).block_elems;
                for (size_t blk = 0; blk < cols / be; ++blk) {
                    float lo = x[blk * be], hi = lo;
                    for (size_t i = blk * be; i < (blk + 1) * be; ++i) {
                        lo = std::min(lo, x[i]);
                        hi = std::max(hi, x[i]);
                    }
                    for (size_t i = blk * be; i < (blk + 1) * be; ++i) {
                        const double e = static_cast<double>(x[i]) - static_cast<double>(y[i]);
                        se += e * e;
                        sx += static_cast<double>(x[i]) * static_cast<double>(x[i]);
                        // No decoded value leaves the block's range by more than its span.
                        INFO(ggml_type_info(bd.t).name << " element " << i);
                        REQUIRE(std::fabs(e) <= static_cast<double>(hi - lo));
                    }
                }
                INFO(ggml_type_info(bd.t).name << (weighted ? " weighted" : " plain"));
                CHECK(std::sqrt(se / sx) < bd.rel_rms);
            }
        }
    }
    SECTION("F32 is exact, F16 is the f16 rounding") {
        const auto x = heavy_tailed(256, 3);
        CHECK(decode(GgmlType::F32, encode(GgmlType::F32, x), 256) == x);
        const auto y = decode(GgmlType::F16, encode(GgmlType::F16, x), 256);
        for (size_t i = 0; i < x.size(); ++i)
            CHECK(y[i] == f16_to_f32(f32_to_f16(x[i])));
    }
    SECTION("all-zero rows decode to zero") {
        const std::vector<float> z(512, 0.0f);
        const std::vector<float> w(512, 1.0f);
        for (const auto t : kQuantTypes)
            for (const auto* wp : {static_cast<const std::vector<float>*>(nullptr), &w})
                for (float v : decode(t, encode(t, z, wp), 512))
                    CHECK(v == 0.0f);
    }
}

TEST_CASE("ggml: the weighted 32-value encoders never lose to the reference rounding", "[ggml]") {
    const size_t cols = 8192;
    for (const auto t :
         {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0}) {
        for (int dist = 0; dist < 2; ++dist) {
            const auto x = dist ? heavy_tailed(cols, 11) : gaussian(cols, 12);
            const auto w = importance(cols, 13);
            const auto yr = decode(t, encode(t, x), cols);
            const auto yw = decode(t, encode(t, x, &w), cols);
            double er_total = 0, ew_total = 0;
            for (size_t blk = 0; blk < cols / 32; ++blk) {
                double er = 0, ew = 0;
                for (size_t i = blk * 32; i < blk * 32 + 32; ++i) {
                    const double a = static_cast<double>(x[i]) - static_cast<double>(yr[i]);
                    const double b = static_cast<double>(x[i]) - static_cast<double>(yw[i]);
                    er += static_cast<double>(w[i]) * a * a;
                    ew += static_cast<double>(w[i]) * b * b;
                }
                INFO(ggml_type_info(t).name << " block " << blk);
                REQUIRE(ew <= er);
                er_total += er;
                ew_total += ew;
            }
            INFO(ggml_type_info(t).name << " dist " << dist);
            CHECK(ew_total < 0.9 * er_total);  // the search pays for itself
        }
    }
}

TEST_CASE("ggml: encoding is deterministic, per block and thread-independent", "[ggml]") {
    const size_t cols = 2048;
    const auto x = heavy_tailed(cols, 21);
    const auto w = importance(cols, 22);
    for (const auto t : kQuantTypes) {
        for (const auto* wp : {static_cast<const std::vector<float>*>(nullptr), &w}) {
            const Bytes a = encode(t, x, wp);
            CHECK(encode(t, x, wp) == a);
            // The second half alone encodes to the second half of the bytes.
            const std::vector<float> half(x.begin() + cols / 2, x.end());
            std::vector<float> whalf;
            if (wp) whalf.assign(w.begin() + cols / 2, w.end());
            const Bytes h = encode(t, half, wp ? &whalf : nullptr);
            CHECK(Bytes(a.begin() + static_cast<std::ptrdiff_t>(a.size() / 2), a.end()) == h);
            // Concurrent encoders give the same bytes.
            Bytes c1(a.size()), c2(a.size());
            std::thread th1([&] {
                (void)ggml_quantize_row(t, x.data(), cols, wp ? wp->data() : nullptr, c1.data());
            });
            std::thread th2([&] {
                (void)ggml_quantize_row(t, x.data(), cols, wp ? wp->data() : nullptr, c2.data());
            });
            th1.join();
            th2.join();
            CHECK(c1 == a);
            CHECK(c2 == a);
        }
    }
}

TEST_CASE("ggml: bad rows are refused with a message", "[ggml]") {
    Bytes out(4096);
    auto err = [&](GgmlType t, const std::vector<float>& x, const std::vector<float>* w) {
        const auto st =
            ggml_quantize_row(t, x.data(), x.size(), w ? w->data() : nullptr, out.data());
        REQUIRE_FALSE(st.ok());
        CHECK(st.error().code == Errc::invalid_argument);
        return st.error().message;
    };
    const auto x = gaussian(256, 5);
    CHECK_THAT(err(GgmlType::Q4_0, gaussian(48, 1), nullptr),
               Catch::Contains("multiple of 32") && Catch::Contains("48"));
    CHECK_THAT(err(GgmlType::Q6_K, gaussian(288, 1), nullptr), Catch::Contains("multiple of 256"));
    for (const auto t : kQuantTypes) {
        auto bad = x;
        bad[37] = std::nanf("");
        CHECK_THAT(err(t, bad, nullptr), Catch::Contains("column 37"));
        bad[37] = INFINITY;
        CHECK_THAT(err(t, bad, nullptr), Catch::Contains("not a finite number"));
        auto w = importance(256, 2);
        w[100] = -1.0f;
        CHECK_THAT(err(t, x, &w), Catch::Contains("importance at column 100"));
        w[100] = std::nanf("");
        CHECK_THAT(err(t, x, &w), Catch::Contains(">= 0"));
        // A block scale beyond F16.
        auto big = x;
        big[3] = 3.0e38f;
        CHECK_THAT(err(t, big, nullptr), Catch::Contains("F16 range"));
    }
    auto big = x;
    big[9] = 70000.0f;
    CHECK_THAT(err(GgmlType::F16, big, nullptr), Catch::Contains("column 9"));
    CHECK(ggml_quantize_row(GgmlType::F32, big.data(), big.size(), nullptr, out.data()).ok());
}
