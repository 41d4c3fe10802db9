#include "sutra/quant/awq.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sutra/base/thread_pool.hpp"
#include "sutra/model/blas.hpp"
#include "sutra/quant/rtn.hpp"
#include "sutra/simd/dispatch.hpp"

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
    const simd::Kernels& k = simd::active();
    std::vector<float> out(w.size());
    std::vector<uint8_t> codes(l.cols), zeros(l.n_groups);
    std::vector<uint16_t> scales(l.n_groups);
    for (uint64_t r = 0; r < l.rows; ++r) {
        size_t bad = 0;
        const float* in = w.data() + r * l.cols;
        if (quantize_row_rtn(k, in, l, codes.data(), scales.data(), zeros.data(), &bad) !=
            RowStatus::ok) {
            std::copy(in, in + l.cols, out.data() + r * l.cols);
            continue;
        }
        dequantize_row(k, codes.data(), scales.data(), zeros.data(), l, out.data() + r * l.cols);
    }
    return out;
}

void scaled_fake_quantize(const std::vector<float>& w, const QuantLayout& l,
                          std::span<const float> s, std::vector<float>& out, unsigned threads) {
    const simd::Kernels& k = simd::active();
    out.resize(w.size());
    constexpr uint64_t kRowsPerItem = 16;
    const uint64_t items = (l.rows + kRowsPerItem - 1) / kRowsPerItem;
    parallel_for(static_cast<size_t>(items), threads, [&](size_t item) {
        std::vector<float> scaled(l.cols), deq(l.cols);
        std::vector<uint8_t> codes(l.cols), zeros(l.n_groups);
        std::vector<uint16_t> scales(l.n_groups);
        const uint64_t r_end = std::min<uint64_t>(l.rows, (item + 1) * kRowsPerItem);
        for (uint64_t r = item * kRowsPerItem; r < r_end; ++r) {
            const float* in = w.data() + r * l.cols;
            float* o = out.data() + r * l.cols;
            if (s.empty())
                std::copy(in, in + l.cols, scaled.begin());
            else
                for (uint64_t c = 0; c < l.cols; ++c)
                    scaled[c] = in[c] * s[c];
            size_t bad = 0;
            if (quantize_row_rtn(k, scaled.data(), l, codes.data(), scales.data(), zeros.data(),
                                 &bad) == RowStatus::ok)
                dequantize_row(k, codes.data(), scales.data(), zeros.data(), l, deq.data());
            else
                deq = scaled;
            if (s.empty())
                std::copy(deq.begin(), deq.end(), o);
            else
                for (uint64_t c = 0; c < l.cols; ++c)
                    o[c] = deq[c] / s[c];
        }
    });
}

size_t grid_search_min(size_t n, GridSearch mode, const std::function<double(size_t)>& loss,
                       std::vector<double>* losses, size_t refine) {
    std::vector<double> v(n, std::numeric_limits<double>::quiet_NaN());
    std::vector<bool> done(n, false);
    auto eval = [&](size_t i) {
        if (i >= n || done[i]) return;
        v[i] = loss(i);
        done[i] = true;
    };
    // The least loss so far (NaN counts as +inf), the first on ties; point 0 if none is finite.
    auto best = [&] {
        size_t b = n;
        for (size_t i = 0; i < n; ++i)
            if (done[i] && !std::isnan(v[i]) && (b == n || v[i] < v[b])) b = i;
        return b == n ? size_t{0} : b;
    };
    if (mode == GridSearch::full || n <= 4) {
        for (size_t i = 0; i < n; ++i)
            eval(i);
    } else {
        for (size_t i = 0; i < n; i += 4)
            eval(i);
        for (const size_t stride : {size_t{2}, size_t{1}}) {
            // The `refine` best points so far (least loss first, then grid order).
            std::vector<size_t> order;
            for (size_t i = 0; i < n; ++i)
                if (done[i]) order.push_back(i);
            const auto key = [&](size_t i) { return std::isnan(v[i]) ? HUGE_VAL : v[i]; };
            std::stable_sort(order.begin(), order.end(),
                             [&](size_t a, size_t b) { return key(a) < key(b); });
            order.resize(std::min(order.size(), std::max<size_t>(refine, 1)));
            for (const size_t b : order) {
                if (b >= stride) eval(b - stride);
                eval(b + stride);
            }
        }
    }
    if (losses) *losses = v;
    return best();
}

namespace {

// Scratch for one thread's clipping search (one group at a time, at most `width` values).
struct ClipScratch {
    std::vector<float> clipped, q;
    std::vector<uint8_t> codes, zeros;
    std::vector<uint16_t> scales;
    explicit ClipScratch(uint64_t width)
        : clipped(width), q(width), codes(width), zeros(1), scales(1) {}
};

// The largest |w| of a group wg[0, width).
float max_abs_of(const float* wg, uint64_t width) {
    float mx = 0;
    for (uint64_t c = 0; c < width; ++c)
        mx = std::max(mx, std::fabs(wg[c]));
    return mx;
}

// The i-th clipping bound of a group whose largest |w| is mx: mx·(1 − i/grid).
float clip_bound(float mx, int i, int grid) {
    return mx * (1.0f - static_cast<float>(i) / static_cast<float>(grid));
}

// q[0, width): the group wg clamped to ±bound and round-tripped through RTN as one group (the
// clamped values where RTN refuses them).
void clip_candidate(const simd::Kernels& k, const float* wg, uint64_t width, int bits, float bound,
                    ClipScratch& s, float* q) {
    for (uint64_t c = 0; c < width; ++c)
        s.clipped[c] = std::clamp(wg[c], -bound, bound);
    const auto lg = make_layout(1, width, bits, static_cast<uint32_t>(width));
    size_t bad = 0;
    if (quantize_row_rtn(k, s.clipped.data(), lg, s.codes.data(), s.scales.data(), s.zeros.data(),
                         &bad) == RowStatus::ok)
        dequantize_row(k, s.codes.data(), s.scales.data(), s.zeros.data(), lg, q);
    else
        std::copy(s.clipped.begin(), s.clipped.begin() + static_cast<long>(width), q);
}

// The clipping bound of one group wg[0, width): among clip_bound(mx, i, grid), i < steps, the
// first with the least err(q), q its clip_candidate.
template <class Err>
float best_clip_bound(const simd::Kernels& k, const float* wg, uint64_t width, int bits, int steps,
                      int grid, ClipScratch& s, const Err& err) {
    const float mx = max_abs_of(wg, width);
    double best_err = std::numeric_limits<double>::infinity();
    float best_bound = mx;
    for (int i = 0; i < steps; ++i) {
        const float bound = clip_bound(mx, i, grid);
        clip_candidate(k, wg, width, bits, bound, s, s.q.data());
        const double e = err(s.q.data());
        if (e < best_err) {
            best_err = e;
            best_bound = bound;
        }
    }
    return best_bound;
}

}  // namespace

std::vector<float> search_clip(const std::vector<float>& w, const QuantLayout& l,
                               std::span<const float> x, uint64_t n, const ClipOptions& opt,
                               unsigned threads) {
    const simd::Kernels& k = simd::active();
    // Evenly spaced subsample of the activation rows, each group's slice gathered contiguous
    // per group below so the dot products run over consecutive memory.
    const uint64_t m = std::min<uint64_t>(n, std::max<uint64_t>(opt.max_tokens, 1));
    std::vector<const float*> rows(m);
    for (uint64_t i = 0; i < m; ++i)
        rows[i] = x.data() + (i * n / m) * l.cols;

    const int steps = std::max(1, static_cast<int>(opt.max_shrink * static_cast<float>(opt.grid)));
    std::vector<float> best(l.rows * l.n_groups);
    // Per group: its Gram matrix [width, width] (accumulated in double, stored in f32) when it
    // is cheaper than the rows, i.e. when the group is narrower than the sample; else the
    // sampled activations of the group, [m, width].
    std::vector<std::vector<float>> xg(l.n_groups), gram(l.n_groups);
    parallel_for(static_cast<size_t>(l.n_groups), threads, [&](size_t g) {
        const uint64_t b = g * l.group, width = l.group_width(g);
        if (width >= m) {
            xg[g].resize(m * width);
            for (uint64_t t = 0; t < m; ++t)
                std::copy(rows[t] + b, rows[t] + b + width, xg[g].data() + t * width);
            return;
        }
        std::vector<double> acc(width * width, 0.0);
        for (uint64_t t = 0; t < m; ++t) {
            const float* xr = rows[t] + b;
            for (uint64_t i = 0; i < width; ++i) {
                const auto xi = static_cast<double>(xr[i]);
                double* a = acc.data() + i * width;
                for (uint64_t j = 0; j < width; ++j)
                    a[j] += xi * static_cast<double>(xr[j]);
            }
        }
        gram[g].resize(width * width);
        for (size_t i = 0; i < acc.size(); ++i)
            gram[g][i] = static_cast<float>(acc[i]);
    });
    // Rows in items of a fixed size (so the products below have the same shapes for every
    // thread count), under single-threaded BLAS.
    const model::SingleThreadedBlas single_threaded;
    constexpr uint64_t kRowsPerItem = 32;
    const uint64_t items = (l.rows + kRowsPerItem - 1) / kRowsPerItem;
    const auto n_steps = static_cast<uint64_t>(steps);
    parallel_for(static_cast<size_t>(items), threads, [&](size_t item) {
        ClipScratch scratch(l.group);
        std::vector<float> ref_out(m);
        const uint64_t r0 = item * kRowsPerItem, r1 = std::min<uint64_t>(l.rows, r0 + kRowsPerItem);
        // Gram path: every candidate of the item's rows at once, D = q - w [rows * steps, width],
        // then the errors dᵀ G d as the row-wise dot products of D·G with D.
        std::vector<float> dm((r1 - r0) * n_steps * l.group), dg(dm.size());
        for (uint64_t g = 0; g < l.n_groups; ++g) {
            const uint64_t b = g * l.group, width = l.group_width(g);
            if (!gram[g].empty()) {
                for (uint64_t r = r0; r < r1; ++r) {
                    const float* wg = w.data() + r * l.cols + b;
                    const float mx = max_abs_of(wg, width);
                    for (int i = 0; i < steps; ++i) {
                        float* d =
                            dm.data() + ((r - r0) * n_steps + static_cast<uint64_t>(i)) * width;
                        clip_candidate(k, wg, width, l.bits, clip_bound(mx, i, opt.grid), scratch,
                                       d);
                        for (uint64_t c = 0; c < width; ++c)
                            d[c] -= wg[c];
                    }
                }
                const auto n_cand = static_cast<int64_t>((r1 - r0) * n_steps);
                const auto iw = static_cast<int64_t>(width);
                model::matmul_wt(dm.data(), n_cand, iw, gram[g].data(), iw, dg.data());
                for (uint64_t r = r0; r < r1; ++r) {
                    const float mx = max_abs_of(w.data() + r * l.cols + b, width);
                    double best_err = std::numeric_limits<double>::infinity();
                    float best_bound = mx;
                    for (int i = 0; i < steps; ++i) {
                        const uint64_t at = ((r - r0) * n_steps + static_cast<uint64_t>(i)) * width;
                        const double e = k.dot(dg.data() + at, dm.data() + at, width);
                        if (e < best_err) {
                            best_err = e;
                            best_bound = clip_bound(mx, i, opt.grid);
                        }
                    }
                    best[r * l.n_groups + g] = best_bound;
                }
                continue;
            }
            // Rows path: the partial outputs of every sampled token.
            const float* xs = xg[g].data();
            for (uint64_t r = r0; r < r1; ++r) {
                const float* wg = w.data() + r * l.cols + b;
                for (uint64_t t = 0; t < m; ++t)
                    ref_out[t] = static_cast<float>(k.dot(xs + t * width, wg, width));
                best[r * l.n_groups + g] = best_clip_bound(
                    k, wg, width, l.bits, steps, opt.grid, scratch, [&](const float* q) {
                        double err = 0;
                        for (uint64_t t = 0; t < m; ++t) {
                            const double e =
                                k.dot(xs + t * width, q, width) - static_cast<double>(ref_out[t]);
                            err += e * e;
                        }
                        return err;
                    });
            }
        }
    });
    return best;
}

double weighted_sq_error(const std::vector<float>& a, const std::vector<float>& b, uint64_t cols,
                         std::span<const float> x_sq, unsigned threads) {
    const size_t rows = cols ? a.size() / cols : 0;
    std::vector<double> per_row(rows);
    constexpr size_t kRowsPerItem = 64;
    parallel_for((rows + kRowsPerItem - 1) / kRowsPerItem, threads, [&](size_t item) {
        for (size_t r = item * kRowsPerItem; r < std::min(rows, (item + 1) * kRowsPerItem); ++r) {
            double row = 0;
            for (uint64_t c = 0; c < cols; ++c) {
                const size_t i = r * cols + c;
                const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
                row += static_cast<double>(x_sq[c]) * d * d;
            }
            per_row[r] = row;
        }
    });
    double e = 0;
    for (const double row : per_row)
        e += row;
    return e;
}

std::vector<float> search_clip_weighted(const std::vector<float>& w, const QuantLayout& l,
                                        std::span<const float> x_sq, const ClipOptions& opt,
                                        unsigned threads) {
    const simd::Kernels& k = simd::active();
    const int steps = std::max(1, static_cast<int>(opt.max_shrink * static_cast<float>(opt.grid)));
    std::vector<float> best(l.rows * l.n_groups);
    constexpr uint64_t kRowsPerItem = 8;
    const uint64_t items = (l.rows + kRowsPerItem - 1) / kRowsPerItem;
    parallel_for(static_cast<size_t>(items), threads, [&](size_t item) {
        ClipScratch scratch(l.group);
        const uint64_t r_end = std::min<uint64_t>(l.rows, (item + 1) * kRowsPerItem);
        for (uint64_t r = item * kRowsPerItem; r < r_end; ++r) {
            for (uint64_t g = 0; g < l.n_groups; ++g) {
                const uint64_t b = g * l.group, width = l.group_width(g);
                const float* wg = w.data() + r * l.cols + b;
                const float* dg = x_sq.data() + b;
                const float best_bound = best_clip_bound(
                    k, wg, width, l.bits, steps, opt.grid, scratch, [&](const float* q) {
                        double err = 0;
                        for (uint64_t c = 0; c < width; ++c) {
                            const double d = static_cast<double>(q[c]) - static_cast<double>(wg[c]);
                            err += static_cast<double>(dg[c]) * d * d;
                        }
                        return err;
                    });
                best[r * l.n_groups + g] = best_bound;
            }
        }
    });
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
