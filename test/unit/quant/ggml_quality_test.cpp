// Quality and speed of the GGUF encoders. The k-quants must beat a plain baseline (min/max
// round-to-nearest per sub-block, super-block scales quantized the same way, codes recomputed
// with the quantized scales) in (importance-)weighted squared error on gaussian and
// heavy-tailed rows. The [.bench] case prints the figures and the encode speed:
//   build/bin/sutra_tests "[ggml-bench]"
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>
#include <vector>

#include "sutra/base/half.hpp"
#include "sutra/quant/ggml_types.hpp"

using namespace sutra;
using namespace sutra::quant;

namespace {

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

float f16r(float v) {
    return f16_to_f32(f32_to_f16(v));
}
int nearest(float v, int lo, int hi) {
    return std::clamp(static_cast<int>(std::lrint(v)), lo, hi);
}

// The baseline: Q4_K / Q5_K (nmax 15 / 31) decoded values.
std::vector<float> baseline_k45(const std::vector<float>& x, int nmax) {
    std::vector<float> y(x.size());
    for (size_t sb = 0; sb < x.size(); sb += 256) {
        float s[8], m[8], max_s = 0, max_m = 0;
        for (int j = 0; j < 8; ++j) {
            const float* v = x.data() + sb + 32 * j;
            const float lo = std::min(0.0f, *std::min_element(v, v + 32));
            const float hi = *std::max_element(v, v + 32);
            s[j] = (hi - lo) / static_cast<float>(nmax);
            m[j] = -lo;
            max_s = std::max(max_s, s[j]);
            max_m = std::max(max_m, m[j]);
        }
        const float d = f16r(max_s / 63), dm = f16r(max_m / 63);
        for (int j = 0; j < 8; ++j) {
            const int sc = d > 0 ? nearest(s[j] / d, 0, 63) : 0;
            const int mb = dm > 0 ? nearest(m[j] / dm, 0, 63) : 0;
            const float d1 = d * static_cast<float>(sc), m1 = dm * static_cast<float>(mb);
            for (int i = 0; i < 32; ++i) {
                const size_t k = sb + 32 * j + i;
                const int q = d1 > 0 ? nearest((x[k] + m1) / d1, 0, nmax) : 0;
                y[k] = d1 * static_cast<float>(q) - m1;
            }
        }
    }
    return y;
}

std::vector<float> baseline_q6k(const std::vector<float>& x) {
    std::vector<float> y(x.size());
    for (size_t sb = 0; sb < x.size(); sb += 256) {
        float s[16], s_star = 0;
        for (int j = 0; j < 16; ++j) {
            float xm = 0;
            for (int i = 0; i < 16; ++i)
                if (std::fabs(x[sb + 16 * j + i]) > std::fabs(xm)) xm = x[sb + 16 * j + i];
            s[j] = xm / -32.0f;
            if (std::fabs(s[j]) > std::fabs(s_star)) s_star = s[j];
        }
        const float d = f16r(s_star / -128.0f);
        for (int j = 0; j < 16; ++j) {
            const int sc = d != 0 ? nearest(s[j] / d, -128, 127) : 0;
            const float d1 = d * static_cast<float>(sc);
            for (int i = 0; i < 16; ++i) {
                const size_t k = sb + 16 * j + i;
                const int q = d1 != 0 ? nearest(x[k] / d1, -32, 31) : 0;
                y[k] = d1 * static_cast<float>(q);
            }
        }
    }
    return y;
}

std::vector<float> row(size_t n, uint32_t seed, bool heavy) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 0.02f);
    std::student_t_distribution<float> t(3.0f);
    std::vector<float> v(n);
    for (auto& x : v)
        x = heavy ? 0.02f * t(rng) : g(rng);
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

double wmse(const std::vector<float>& x, const std::vector<float>& y, const float* w) {
    double e = 0, sw = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const double d = static_cast<double>(x[i]) - static_cast<double>(y[i]);
        const double wi = w ? static_cast<double>(w[i]) : 1.0;
        e += wi * d * d;
        sw += wi;
    }
    return e / sw;
}

std::vector<float> sutra_decoded(GgmlType t, const std::vector<float>& x, const float* w) {
    std::vector<uint8_t> b(ggml_row_bytes(t, x.size()));
    REQUIRE(ggml_quantize_row(t, x.data(), x.size(), w, b.data()).ok());
    std::vector<float> y(x.size());
    ggml_dequantize_row(t, b.data(), x.size(), y.data());
    return y;
}

std::vector<float> baseline_decoded(GgmlType t, const std::vector<float>& x) {
    if (t == GgmlType::Q4_K) return baseline_k45(x, 15);
    if (t == GgmlType::Q5_K) return baseline_k45(x, 31);
    if (t == GgmlType::Q6_K) return baseline_q6k(x);
    return sutra_decoded(t, x, nullptr);  // the 32-value types: llama.cpp's reference rounding
}

}  // namespace

TEST_CASE("ggml: k-quants beat the plain min/max baseline", "[ggml]") {
    const size_t cols = 8192;
    const auto w = importance(cols, 99);
    for (const auto t : {GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
        for (int heavy = 0; heavy < 2; ++heavy) {
            const auto x = row(cols, 50 + static_cast<uint32_t>(heavy), heavy != 0);
            const auto base = baseline_decoded(t, x);
            INFO(ggml_type_info(t).name << (heavy ? " heavy-tailed" : " gaussian"));
            CHECK(wmse(x, sutra_decoded(t, x, nullptr), nullptr) < 0.95 * wmse(x, base, nullptr));
            CHECK(wmse(x, sutra_decoded(t, x, w.data()), w.data()) <
                  0.95 * wmse(x, base, w.data()));
        }
    }
}

TEST_CASE("ggml: encoder quality and speed figures", "[.bench][ggml-bench]") {
    const size_t cols = 4096, rows = 64;
    const auto w = importance(cols, 99);
    std::printf("%-5s %-6s %12s %12s %12s %12s %10s %10s\n", "type", "rows", "base_mse",
                "sutra_mse", "base_wmse", "sutra_wmse", "ns/el", "ns/el(w)");
    for (const auto& info : ggml_types()) {
        if (info.block_elems == 1) continue;
        for (int heavy = 0; heavy < 2; ++heavy) {
            double bm = 0, sm = 0, bw = 0, sw = 0;
            for (size_t r = 0; r < 8; ++r) {
                const auto x = row(cols, 1000 + static_cast<uint32_t>(r), heavy != 0);
                const auto base = baseline_decoded(info.type, x);
                bm += wmse(x, base, nullptr);
                sm += wmse(x, sutra_decoded(info.type, x, nullptr), nullptr);
                bw += wmse(x, base, w.data());
                sw += wmse(x, sutra_decoded(info.type, x, w.data()), w.data());
            }
            double ns[2] = {0, 0};
            if (heavy == 0) {
                std::vector<float> xs;
                for (size_t r = 0; r < rows; ++r) {
                    const auto x = row(cols, 2000 + static_cast<uint32_t>(r), false);
                    xs.insert(xs.end(), x.begin(), x.end());
                }
                std::vector<uint8_t> out(ggml_row_bytes(info.type, cols));
                for (int weighted = 0; weighted < 2; ++weighted) {
                    // Thread CPU time, the least of 5 runs: the machine is shared.
                    double best = 1e30;
                    for (int run = 0; run < 5; ++run) {
                        const double t0 = thread_cpu_seconds();
                        for (size_t r = 0; r < rows; ++r)
                            (void)ggml_quantize_row(info.type, xs.data() + r * cols, cols,
                                                    weighted ? w.data() : nullptr, out.data());
                        best = std::min(best, thread_cpu_seconds() - t0);
                    }
                    ns[weighted] = best * 1e9 / static_cast<double>(rows * cols);
                }
            }
            std::printf("%-5s %-6s %12.4e %12.4e %12.4e %12.4e %10.1f %10.1f\n", info.name,
                        heavy ? "t3" : "gauss", bm / 8, sm / 8, bw / 8, sw / 8, ns[0], ns[1]);
        }
    }
}
