#pragma once
// The numeric pieces of activation-aware weight quantization (AWQ; Lin et al., MLSys 2024),
// independent of any model: per-input-channel scales from activation statistics, the
// scale-quantize-unscale transform the search evaluates, and the per-group clipping search.
// The block-level search that ties them to a model's forward pass is pipeline/awq_block.
//
// Scales: s_c = mean|x_c|^alpha (duo: mean|x_c|^alpha / w_mean_c^(1-alpha)), floored at 1e-4,
// then divided by sqrt(max(s) * min(s)). A weight W [rows, cols] is quantized as W·diag(s)
// and the model stays equivalent by dividing the preceding operator's output by s.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "sutra/quant/layout.hpp"

namespace sutra::quant {

// Scales for one alpha. x_mean: mean |x| per input channel. w_mean: for duo scaling, the mean
// over rows of |W| normalised by each group's max |W| (see weight_salience); empty otherwise.
std::vector<float> awq_scales(std::span<const float> x_mean, std::span<const float> w_mean,
                              float alpha);

// Mean over rows (and over the linears given) of |W| / max|W| of its group, per input channel.
std::vector<float> weight_salience(std::span<const std::vector<float>* const> weights,
                                   uint64_t cols, uint32_t group_size);

// W [rows, cols] *= s per column (in place); / s when `divide`.
void scale_columns(std::vector<float>& w, uint64_t cols, std::span<const float> s,
                   bool divide = false);
// W [rows, cols] row r *= s[r] (in place); / s when `divide`.
void scale_rows(std::vector<float>& w, uint64_t cols, std::span<const float> s,
                bool divide = false);

// Round-to-nearest quantization followed by dequantization (what the stored codes decode to),
// with the active kernels.
// Non-finite input or an F16 scale overflow makes the affected values pass through unchanged;
// the real quantizer reports those errors.
std::vector<float> fake_quantize(const std::vector<float>& w, const QuantLayout& l);

// The transform the scale search evaluates: out = Q(W·diag(s))·diag(1/s) (W unchanged where a
// row's RTN refuses it, as fake_quantize does), bit-identical to scale_columns, fake_quantize,
// scale_columns(divide). s empty: fake_quantize(w). Rows on up to `threads` threads; the result
// does not depend on the thread count. `out` is resized to w.size().
void scaled_fake_quantize(const std::vector<float>& w, const QuantLayout& l,
                          std::span<const float> s, std::vector<float>& out, unsigned threads = 1);

// How the minimum of a loss over grid points 0..n-1 is looked for.
enum class GridSearch {
    full,  // every point
    // Coarse to fine: every 4th point (0, 4, 8, ...), then the two points 2 away from the best
    // so far, then the two points 1 away from the best: at most n/4 + 5 evaluations (9 of 20).
    // It finds the full search's point whenever the loss is unimodal over the grid (strictly
    // decreasing up to its minimum, strictly increasing after it); otherwise a local minimum.
    coarse_to_fine,
};

// The point with the least loss (the first one on ties, in grid order) among those evaluated;
// `loss` is called once per evaluated point, one point at a time, in a fixed order that
// depends only on the losses. losses (optional) receives n entries: each point's loss, NaN
// where it was not evaluated. n >= 1.
size_t grid_search_min(size_t n, GridSearch mode, const std::function<double(size_t)>& loss,
                       std::vector<double>* losses = nullptr, size_t refine = 1);

struct ClipOptions {
    int grid = 20;              // shrink steps: max range * (1 - i / grid)
    float max_shrink = 0.5f;    // search shrink ratios down to 1 - max_shrink
    uint64_t max_tokens = 512;  // activation rows used (evenly spaced subsample)
};

// For each (row, group), the clipping bound max|W| * (1 - i/grid) that minimises the squared
// error of the group's partial output x_g · w_g over the sampled activations x [n, cols].
// Returns the bounds [rows * n_groups]. Rows are searched on up to `threads` threads; the
// result does not depend on the thread count.
// The error over the m sampled rows, sum_t (x_t,g · (q - w_g))^2, is computed as dᵀ G_g d with
// d = q - w_g and the group's Gram matrix G_g = sum_t x_t,g x_t,gᵀ (width x width, formed once
// per group and shared by every row): width² operations per candidate instead of m · width,
// and those in one matrix product (OpenBLAS, single-threaded) per group for the candidates of
// 32 rows at once. Used where the group is narrower than the sample; else the sum over the
// sampled tokens directly.
std::vector<float> search_clip(const std::vector<float>& w, const QuantLayout& l,
                               std::span<const float> x, uint64_t n, const ClipOptions& opt,
                               unsigned threads = 1);
// Without activations (statistics only, e.g. a llama.cpp imatrix): the expected squared
// output error of a linear whose input channels are taken as uncorrelated, i.e. with only the
// diagonal of E[x xᵀ]: sum_r sum_c x_sq[c] * (a[r, c] - b[r, c])^2 for A, B [rows, cols] and
// x_sq[c] = E[x_c^2]. Accumulated in double, rows in order.
// Rows are summed on up to `threads` threads, then added in row order: the same result for
// every thread count.
double weighted_sq_error(const std::vector<float>& a, const std::vector<float>& b, uint64_t cols,
                         std::span<const float> x_sq, unsigned threads = 1);

// search_clip with that loss: for each (row, group), the bound max|W| * (1 - i/grid) that
// minimises sum_c x_sq[c] * (Q(clip(W))[r, c] - W[r, c])^2 over the group's columns. x_sq has
// `cols` entries (for scaled weights W·diag(s), pass E[x^2] / s^2). Same grid, result layout
// and thread independence as search_clip.
std::vector<float> search_clip_weighted(const std::vector<float>& w, const QuantLayout& l,
                                        std::span<const float> x_sq, const ClipOptions& opt,
                                        unsigned threads = 1);

// Clamps W [rows, cols] to [-bound, bound] of its group.
void apply_clip(std::vector<float>& w, const QuantLayout& l, std::span<const float> bounds);

}  // namespace sutra::quant
