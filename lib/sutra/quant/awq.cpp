#include "sutra/quant/awq.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sutra/quant/rtn.hpp"

namespace sutra::quant {

std::vector<float> awq_scales(std::span<const float> x_mean, std::span<const float> w_mean,
                              float alpha) {
    std::vector<float> s(x_mean.size());
    for (size_t c = 0; c < s.size(); ++c) {
        double v =
            std::pow(static_cast<double>(std::max(x_mean[c], 0.0f)), static_cast<double>(alpha));
        if (!w_mean.empty())
            v /= std::pow(std::max(static_cast<double>(w_mean[c]), 1e-4),
                          1.0 - static_cast<double>(alpha));
        s[c] = static_cast<float>(std::max(v, 1e-4));
    }
    const auto [mn, mx] = std::minmax_element(s.begin(), s.end());
    const double norm = std::sqrt(static_cast<double>(*mn) * static_cast<double>(*mx));
    for (auto& v : s)
        v = static_cast<float>(static_cast<double>(v) / norm);
    return s;
}

std::vector<float> weight_salience(std::span<const std::vector<float>* const> weights,
                                   uint64_t cols, uint32_t group_size) {
    std::vector<double> acc(cols, 0.0);
    uint64_t rows_total = 0;
    for (const auto* w : weights) {
        const uint64_t rows = w->size() / cols;
        const auto l = make_layout(rows, cols, 4, group_size);
        for (uint64_t r = 0; r < rows; ++r) {
            const float* row = w->data() + r * cols;
            for (uint64_t g = 0; g < l.n_groups; ++g) {
                const uint64_t b = g * l.group, e = b + l.group_width(g);
                float mx = 0;
                for (uint64_t c = b; c < e; ++c)
                    mx = std::max(mx, std::fabs(row[c]));
                if (mx <= 0) continue;
                for (uint64_t c = b; c < e; ++c)
                    acc[c] += static_cast<double>(std::fabs(row[c]) / mx);
            }
        }
        rows_total += rows;
    }
    std::vector<float> out(cols);
    for (uint64_t c = 0; c < cols; ++c)
        out[c] = rows_total ? static_cast<float>(acc[c] / static_cast<double>(rows_total)) : 0.0f;
    return out;
}

void scale_columns(std::vector<float>& w, uint64_t cols, std::span<const float> s, bool divide) {
    for (size_t i = 0; i < w.size(); ++i) {
        const float f = s[i % cols];
        w[i] = divide ? w[i] / f : w[i] * f;
    }
}

void scale_rows(std::vector<float>& w, uint64_t cols, std::span<const float> s, bool divide) {
    for (size_t i = 0; i < w.size(); ++i) {
        const float f = s[i / cols];
        w[i] = divide ? w[i] / f : w[i] * f;
    }
}

std::vector<float> fake_quantize(const std::vector<float>& w, const QuantLayout& l) {
    std::vector<float> out(w.size());
    std::vector<uint8_t> codes(l.cols), zeros(l.n_groups);
    std::vector<uint16_t> scales(l.n_groups);
    for (uint64_t r = 0; r < l.rows; ++r) {
        size_t bad = 0;
        const float* in = w.data() + r * l.cols;
        if (quantize_row_rtn(in, l, codes.data(), scales.data(), zeros.data(), &bad) !=
            RowStatus::ok) {
            std::copy(in, in + l.cols, out.data() + r * l.cols);
            continue;
        }
        dequantize_row(codes.data(), scales.data(), zeros.data(), l, out.data() + r * l.cols);
    }
    return out;
}

std::vector<float> search_clip(const std::vector<float>& w, const QuantLayout& l,
                               std::span<const float> x, uint64_t n, const ClipOptions& opt) {
    // Evenly spaced subsample of the activation rows.
    const uint64_t m = std::min<uint64_t>(n, std::max<uint64_t>(opt.max_tokens, 1));
    std::vector<const float*> rows(m);
    for (uint64_t i = 0; i < m; ++i)
        rows[i] = x.data() + (i * n / m) * l.cols;

    const int steps = std::max(1, static_cast<int>(opt.max_shrink * static_cast<float>(opt.grid)));
    std::vector<float> best(l.rows * l.n_groups);
    const auto one = make_layout(1, l.group, l.bits, static_cast<uint32_t>(l.group));
    std::vector<float> clipped(l.group), ref_out(m);
    for (uint64_t r = 0; r < l.rows; ++r) {
        for (uint64_t g = 0; g < l.n_groups; ++g) {
            const uint64_t b = g * l.group, width = l.group_width(g);
            const float* wg = w.data() + r * l.cols + b;
            float mx = 0;
            for (uint64_t c = 0; c < width; ++c)
                mx = std::max(mx, std::fabs(wg[c]));
            for (uint64_t t = 0; t < m; ++t) {
                double acc = 0;
                for (uint64_t c = 0; c < width; ++c)
                    acc += static_cast<double>(rows[t][b + c]) * static_cast<double>(wg[c]);
                ref_out[t] = static_cast<float>(acc);
            }
            const auto lg = width == l.group
                                ? one
                                : make_layout(1, width, l.bits, static_cast<uint32_t>(width));
            double best_err = std::numeric_limits<double>::infinity();
            float best_bound = mx;
            for (int i = 0; i < steps; ++i) {
                const float bound =
                    mx * (1.0f - static_cast<float>(i) / static_cast<float>(opt.grid));
                clipped.assign(wg, wg + width);
                for (auto& v : clipped)
                    v = std::clamp(v, -bound, bound);
                const auto q = fake_quantize(clipped, lg);
                double err = 0;
                for (uint64_t t = 0; t < m; ++t) {
                    double acc = 0;
                    for (uint64_t c = 0; c < width; ++c)
                        acc += static_cast<double>(rows[t][b + c]) * static_cast<double>(q[c]);
                    const double d = acc - static_cast<double>(ref_out[t]);
                    err += d * d;
                }
                if (err < best_err) {
                    best_err = err;
                    best_bound = bound;
                }
            }
            best[r * l.n_groups + g] = best_bound;
        }
    }
    return best;
}

void apply_clip(std::vector<float>& w, const QuantLayout& l, std::span<const float> bounds) {
    for (uint64_t r = 0; r < l.rows; ++r) {
        for (uint64_t g = 0; g < l.n_groups; ++g) {
            const float bound = bounds[r * l.n_groups + g];
            float* wg = w.data() + r * l.cols + g * l.group;
            for (uint64_t c = 0; c < l.group_width(g); ++c)
                wg[c] = std::clamp(wg[c], -bound, bound);
        }
    }
}

}  // namespace sutra::quant
