#include "sutra/pipeline/bench_kernels.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <random>

#include "sutra/base/half.hpp"
#include "sutra/quant/layout.hpp"
#include "sutra/quant/rtn.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::pipeline {
namespace {

// Median and minimum seconds per call of fn over `runs` measurements.
std::pair<double, double> time_calls(const std::function<void()>& fn, int runs,
                                     double min_seconds) {
    using clock = std::chrono::steady_clock;
    fn();  // warm-up: page in the buffers
    std::vector<double> per_call;
    for (int r = 0; r < std::max(runs, 1); ++r) {
        uint64_t calls = 0;
        const auto t0 = clock::now();
        double elapsed = 0;
        do {
            fn();
            ++calls;
            elapsed = std::chrono::duration<double>(clock::now() - t0).count();
        } while (elapsed < min_seconds);
        per_call.push_back(elapsed / static_cast<double>(calls));
    }
    std::sort(per_call.begin(), per_call.end());
    return {per_call[per_call.size() / 2], per_call.front()};
}

volatile double g_sink = 0;  // keeps the sums from being optimized away

}  // namespace

std::vector<KernelTiming> bench_kernels(uint64_t elements, int runs, double min_seconds) {
    const size_t n = static_cast<size_t>(std::max<uint64_t>(elements, 256) / 128 * 128);
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.0f, 0.02f);
    std::vector<float> x(n), y(n), out(n);
    std::vector<uint16_t> h(n);
    for (size_t i = 0; i < n; ++i) {
        x[i] = d(rng);
        y[i] = x[i] + d(rng) * 0.01f;
        h[i] = f32_to_f16(x[i]);
    }
    std::vector<uint8_t> codes(n), packed(n / 2 + 1);
    for (size_t i = 0; i < n; ++i)
        codes[i] = static_cast<uint8_t>(i * 7 % 16);
    const auto l = quant::make_layout(n / 2048 ? n / 2048 : 1, n / 2048 ? 2048 : n, 4, 128);
    std::vector<uint16_t> scales(l.rows * l.n_groups);
    std::vector<uint8_t> zeros(l.rows * l.n_groups);

    struct Case {
        const char* name;
        double bytes_per_element;  // input bytes read per element
        std::function<void(const simd::Kernels&)> run;
    };
    const std::vector<Case> cases = {
        {"f16_to_f32", 2, [&](const simd::Kernels& k) { k.f16_to_f32(h.data(), out.data(), n); }},
        {"bf16_to_f32", 2, [&](const simd::Kernels& k) { k.bf16_to_f32(h.data(), out.data(), n); }},
        {"min_max", 4,
         [&](const simd::Kernels& k) {
             float lo = 0, hi = 0;
             for (size_t i = 0; i < n; i += 128)
                 k.min_max(x.data() + i, 128, &lo, &hi);
             g_sink = g_sink + static_cast<double>(lo + hi);
         }},
        {"quantize", 4,
         [&](const simd::Kernels& k) {
             k.quantize(x.data(), n, 0.004f, 8.0f, 15.0f, codes.data());
         }},
        {"dequantize", 1,
         [&](const simd::Kernels& k) { k.dequantize(codes.data(), n, 0.004f, 8.0f, out.data()); }},
        {"pack4", 1, [&](const simd::Kernels& k) { k.pack4(codes.data(), n, packed.data()); }},
        {"unpack4", 0.5,
         [&](const simd::Kernels& k) { k.unpack4(packed.data(), n, codes.data()); }},
        {"error_sums", 8,
         [&](const simd::Kernels& k) {
             simd::ErrorSums s;
             k.error_sums(x.data(), y.data(), n, &s);
             g_sink = g_sink + s.sq_err;
         }},
        {"dot", 8, [&](const simd::Kernels& k) { g_sink = g_sink + k.dot(x.data(), y.data(), n); }},
        {"quantize_row_q4_g128", 4,
         [&](const simd::Kernels& k) {
             size_t bad = 0;
             for (uint64_t r = 0; r < l.rows; ++r)
                 quant::quantize_row_rtn(k, x.data() + r * l.cols, l, codes.data() + r * l.cols,
                                         scales.data() + r * l.n_groups,
                                         zeros.data() + r * l.n_groups, &bad);
         }},
        {"rtn_row_f16_q4_g128", 2,  // the fused row: F16 values to packed codes
         [&](const simd::Kernels& k) {
             simd::RtnRow row;
             row.format = simd::RowFormat::f16;
             row.cols = l.cols;
             row.group = l.group;
             row.n_groups = l.n_groups;
             row.bits = l.bits;
             for (uint64_t r = 0; r < l.rows; ++r) {
                 row.values = h.data() + r * l.cols;
                 row.codes = packed.data() + r * l.row_code_bytes;
                 row.scales = scales.data() + r * l.n_groups;
                 row.zeros = zeros.data() + r * l.n_groups;
                 k.rtn_row(row);
             }
         }},
    };

    std::vector<KernelTiming> outv;
    for (const auto& c : cases) {
        double scalar_median = 0;
        std::vector<double> medians;  // seconds per call, parallel to this case's entries
        for (const auto& isa_name : simd::available_isas()) {
            auto k = simd::kernels_for(isa_name);
            if (!k.ok()) continue;
            const simd::Kernels& kt = **k;
            const auto [median, mn] = time_calls([&] { c.run(kt); }, runs, min_seconds);
            KernelTiming t;
            t.kernel = c.name;
            t.isa = isa_name;
            t.elements = n;
            t.ns_per_element_median = median * 1e9 / static_cast<double>(n);
            t.ns_per_element_min = mn * 1e9 / static_cast<double>(n);
            t.gb_per_s = c.bytes_per_element * static_cast<double>(n) / median * 1e-9;
            if (isa_name == "scalar") scalar_median = median;
            medians.push_back(median);
            outv.push_back(std::move(t));
        }
        // Ratios once the scalar figure (measured last) is known.
        for (size_t i = 0; i < medians.size(); ++i)
            if (scalar_median > 0)
                outv[outv.size() - medians.size() + i].speedup_vs_scalar =
                    scalar_median / medians[i];
    }
    return outv;
}

}  // namespace sutra::pipeline
