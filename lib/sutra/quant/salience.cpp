#include "sutra/quant/salience.hpp"

#include <algorithm>
#include <cmath>

#include "sutra/base/thread_pool.hpp"
#include "sutra/quant/awq.hpp"
#include "sutra/quant/rtn.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::quant {

float median_abs(std::span<const float> g) {
    std::vector<float> a(g.size());
    for (size_t i = 0; i < g.size(); ++i)
        a[i] = std::fabs(g[i]);
    if (a.empty()) return 0.0f;
    const size_t mid = a.size() / 2;
    std::nth_element(a.begin(), a.begin() + static_cast<long>(mid), a.end());
    return a[mid];
}

double salient_share(std::span<const float> g, double threshold) {
    if (g.empty()) return 0.0;
    const double cut = threshold * static_cast<double>(median_abs(g));
    size_t n = 0;
    for (float v : g)
        n += static_cast<double>(std::fabs(v)) >= cut ? 1 : 0;
    return static_cast<double>(n) / static_cast<double>(g.size());
}

std::vector<float> data_free_scales(std::span<const float> g, double threshold, float alpha) {
    const double cut = threshold * static_cast<double>(median_abs(g));
    std::vector<float> s(g.size(), 1.0f);
    if (cut <= 0) return s;
    for (size_t c = 0; c < g.size(); ++c) {
        const double r = static_cast<double>(std::fabs(g[c])) / cut;
        if (r > 1.0) s[c] = static_cast<float>(std::pow(r, static_cast<double>(alpha)));
    }
    return s;
}

double proxy_loss(const std::vector<float>& w, const QuantLayout& l, std::span<const float> g,
                  std::span<const float> s, unsigned threads) {
    // Row chunks of a fixed size, summed in chunk order: the same value for every thread count.
    constexpr uint64_t kRowsPerChunk = 32;
    const uint64_t chunks = (l.rows + kRowsPerChunk - 1) / kRowsPerChunk;
    std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
    std::vector<float> g2(l.cols);
    for (uint64_t c = 0; c < l.cols; ++c)
        g2[c] = g[c] * g[c];
    const simd::Kernels& k = simd::active();
    const auto one = make_layout(1, l.cols, l.bits, static_cast<uint32_t>(l.group));
    parallel_for(static_cast<size_t>(chunks), threads, [&](size_t chunk) {
        std::vector<float> scaled(l.cols), q(l.cols), d2(l.cols);
        std::vector<uint8_t> codes(l.cols), zeros(l.n_groups);
        std::vector<uint16_t> scales(l.n_groups);
        const uint64_t r_end = std::min<uint64_t>(l.rows, (chunk + 1) * kRowsPerChunk);
        double e = 0;
        for (uint64_t r = chunk * kRowsPerChunk; r < r_end; ++r) {
            const float* row = w.data() + r * l.cols;
            for (uint64_t c = 0; c < l.cols; ++c)
                scaled[c] = row[c] * s[c];
            size_t bad = 0;
            if (quantize_row_rtn(k, scaled.data(), one, codes.data(), scales.data(), zeros.data(),
                                 &bad) == RowStatus::ok)
                dequantize_row(k, codes.data(), scales.data(), zeros.data(), one, q.data());
            else
                q = scaled;  // the real quantizer reports the problem
            for (uint64_t c = 0; c < l.cols; ++c) {
                const float dc = row[c] - q[c] / s[c];
                d2[c] = dc * dc;
            }
            e += k.dot(g2.data(), d2.data(), l.cols);
        }
        partial[chunk] = e;
    });
    double total = 0;
    for (double v : partial)
        total += v;
    return total;
}

}  // namespace sutra::quant
