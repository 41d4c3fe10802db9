#include "sutra/quant/salience.hpp"

#include <algorithm>
#include <cmath>

#include "sutra/quant/awq.hpp"

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
                  std::span<const float> s) {
    std::vector<float> scaled = w;
    scale_columns(scaled, l.cols, s);
    auto q = fake_quantize(scaled, l);
    scale_columns(q, l.cols, s, true);
    double e = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        const double gc = static_cast<double>(g[i % l.cols]);
        const double d = static_cast<double>(w[i]) - static_cast<double>(q[i]);
        e += gc * gc * d * d;
    }
    return e;
}

}  // namespace sutra::quant
