#include "sutra/pipeline/awq_block.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>

#include "sutra/base/stopwatch.hpp"
#include "sutra/base/thread_pool.hpp"
#include "sutra/model/blas.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::pipeline {
namespace {

using model::Activations;
using model::BlockWeights;

enum Lin { kQ, kK, kV, kO, kGate, kUp, kDown };

// The weight of linear i (Lin order) of a block, const or not.
template <class Weights>
auto& weight_of(Weights& w, int i) {
    switch (i) {
        case kQ:
            return w.q;
        case kK:
            return w.k;
        case kV:
            return w.v;
        case kO:
            return w.o;
        case kGate:
            return w.gate;
        case kUp:
            return w.up;
        default:
            return w.down;
    }
}

// The activations seen inside the block on the loss windows, full precision; one entry per
// loss window.
struct BlockTrace {
    std::vector<std::vector<float>> xn1;       // input of q/k/v (normalised) [T, H]
    std::vector<std::vector<float>> attn_in;   // input of o [T, q_width]
    std::vector<std::vector<float>> attn_out;  // self-attention output [T, H]
    std::vector<std::vector<float>> xn2;       // input of gate/up [T, H]
    std::vector<std::vector<float>> act;       // input of down [T, I]
    std::vector<std::vector<float>> mlp_out;   // MLP output [T, H]
    std::vector<int64_t> rows;                 // T of each loss window
    std::vector<int64_t> first_position;       // and the position of its first row
    uint64_t tokens = 0;
};

// Runs the full-precision block on the windows of `xs` (in parallel, one window per work
// item), keeping the activations of the windows in `keep` (ascending indices into xs). With
// `advance` (the same vector as xs, or one of its size), every window is run and advance[k]
// receives the block's output on xs[k], as run_block computes it: the same operations in the
// same order.
BlockTrace trace_block(const model::Llama& llama, const BlockWeights& w,
                       const std::vector<Activations>& xs, std::span<const size_t> keep,
                       std::vector<Activations>* advance, unsigned threads) {
    const auto& c = llama.config();
    const int64_t H = c.hidden_size;
    BlockTrace t;
    const size_t n_keep = keep.size();
    t.xn1.resize(n_keep);
    t.attn_in.resize(n_keep);
    t.attn_out.resize(n_keep);
    t.xn2.resize(n_keep);
    t.act.resize(n_keep);
    t.mlp_out.resize(n_keep);
    // slot[k]: where window k's trace goes, or n_keep when it is not kept.
    std::vector<size_t> slot(xs.size(), n_keep);
    for (size_t j = 0; j < n_keep; ++j)
        slot[keep[j]] = j;
    std::vector<int64_t> first_position(n_keep);
    for (size_t j = 0; j < n_keep; ++j)
        first_position[j] = xs[keep[j]].first_position;
    std::vector<size_t> run;  // the windows to run: all with `advance`, else the kept ones
    for (size_t k = 0; k < xs.size(); ++k)
        if (advance || slot[k] < n_keep) run.push_back(k);
    parallel_for(run.size(), threads, [&](size_t item) {
        const Activations& x = xs[run[item]];
        const size_t j = slot[run[item]];
        const int64_t T = x.rows;
        std::vector<float> xn1(static_cast<size_t>(T * H)),
            ain(static_cast<size_t>(T * c.q_width())), aout(static_cast<size_t>(T * H));
        llama.norm(x.data.data(), w.input_norm, T, xn1.data());
        llama.attention_sublayer(w, xn1.data(), T, x.first_position, aout.data(), ain.data());
        std::vector<float> mid(x.data);
        for (size_t i = 0; i < mid.size(); ++i)
            mid[i] += aout[i];
        std::vector<float> xn2(static_cast<size_t>(T * H)),
            act(static_cast<size_t>(T * c.intermediate_size)), mout(static_cast<size_t>(T * H));
        llama.norm(mid.data(), w.post_norm, T, xn2.data());
        llama.mlp_sublayer(w, xn2.data(), T, mout.data(), act.data());
        if (advance) {
            // Written after every read of x: advance may be xs itself.
            for (size_t i = 0; i < mid.size(); ++i)
                mid[i] += mout[i];
            Activations& y = (*advance)[run[item]];
            y.rows = x.rows;
            y.cols = x.cols;
            y.first_position = x.first_position;
            y.data = std::move(mid);
        }
        if (j < n_keep) {
            t.xn1[j] = std::move(xn1);
            t.attn_in[j] = std::move(ain);
            t.attn_out[j] = std::move(aout);
            t.xn2[j] = std::move(xn2);
            t.act[j] = std::move(act);
            t.mlp_out[j] = std::move(mout);
        }
    });
    for (size_t j = 0; j < n_keep; ++j) {
        t.rows.push_back(static_cast<int64_t>(t.xn1[j].size()) / H);
        t.first_position.push_back(first_position[j]);
        t.tokens += t.xn1[j].size() / static_cast<uint64_t>(H);
    }
    return t;
}

// A scaling group: its linears, and which of the block's four inputs they share (index into
// the x_mean / x_sq arrays).
struct Group {
    std::string name;
    std::vector<int> linears;
    size_t input;
};

const std::vector<Group>& block_groups() {
    static const std::vector<Group> groups = {{"qkv", {kQ, kK, kV}, 0},
                                              {"o", {kO}, 1},
                                              {"gate_up", {kGate, kUp}, 2},
                                              {"down", {kDown}, 3}};
    return groups;
}

// `max_rows` evenly spaced rows (row i * n / m of the n rows of `parts`, one after the other)
// divided by `divide_by` per column (when not empty): [m, cols], m = min(n, max_rows).
std::vector<float> sample_rows(const std::vector<std::vector<float>>& parts,
                               std::span<const float> divide_by, uint64_t cols, uint64_t max_rows) {
    std::vector<const float*> row_ptr;
    for (const auto& p : parts)
        for (size_t r = 0; r < p.size() / cols; ++r)
            row_ptr.push_back(p.data() + r * cols);
    const uint64_t n = row_ptr.size();
    const uint64_t m = std::min<uint64_t>(n, std::max<uint64_t>(max_rows, 1));
    std::vector<float> out(m * cols);
    for (uint64_t i = 0; i < m; ++i) {
        const float* src = row_ptr[i * n / m];
        float* dst = out.data() + i * cols;
        std::copy(src, src + cols, dst);
        if (!divide_by.empty())
            for (uint64_t c = 0; c < cols; ++c)
                dst[c] /= divide_by[c];
    }
    return out;
}

// The alphas of the search: the grid, or 0 (for loss_plain) and the forced one.
Result<std::vector<float>> alpha_grid(const AwqOptions& opt) {
    if (opt.grid < 1)
        return make_error(Errc::invalid_argument, "AWQ grid must have at least one point");
    if (opt.alpha && !(*opt.alpha >= 0.0f && *opt.alpha <= 1.0f))
        return make_error(Errc::invalid_argument, "AWQ alpha must be in [0, 1]");
    if (opt.alpha) return std::vector<float>{0.0f, *opt.alpha};
    std::vector<float> alphas;
    for (int step = 0; step < opt.grid; ++step)
        alphas.push_back(static_cast<float>(step) / static_cast<float>(opt.grid));
    return alphas;
}

// The loss of group `g` for a trial set of the block's weights (the group's linears replaced
// by their scaled, quantized and unscaled versions). It may run its own parallel loops.
using GroupLoss = std::function<double(const Group& g, const BlockWeights& trial)>;

// Searches the scales of every group on `loss`, applies them to res.weights (columns scaled,
// 1/s folded into what produces the group's input) and fills res.groups and, per linear, the
// scale its input was divided by.
Status scale_groups(const model::LlamaConfig& c, const std::array<std::vector<float>, 4>& x_mean,
                    const BlockQuant& q, const AwqOptions& opt, const GroupLoss& loss,
                    AwqBlockResult& res, std::array<std::vector<float>, 7>& in_scale) {
    SUTRA_ASSIGN(const std::vector<float> alphas, alpha_grid(opt));
    const int64_t H = c.hidden_size;
    BlockWeights& w = res.weights;
    const bool o_ok = c.kv_width() == c.q_width() && w.v_bias.empty();
    for (size_t gi = 0; gi < block_groups().size(); ++gi) {
        const Group& g = block_groups()[gi];
        const auto t0 = std::chrono::steady_clock::now();
        AwqGroupReport rep;
        rep.group = g.name;
        bool any = false;
        for (int i : g.linears)
            any = any || q.quantize[static_cast<size_t>(i)];
        if (!any || (g.name == "o" && !o_ok)) {
            res.groups.push_back(rep);
            continue;
        }
        const std::vector<float>& xm = x_mean[g.input];
        const uint64_t cols = q.layout[static_cast<size_t>(g.linears[0])].cols;
        if (xm.size() != cols)
            return make_error(Errc::invalid_argument,
                              "layer " + std::to_string(w.layer) + " group " + g.name +
                                  ": calibration statistics have " + std::to_string(xm.size()) +
                                  " channels, the weights " + std::to_string(cols));
        std::vector<float> w_mean;
        if (opt.duo_scaling) {
            std::vector<const std::vector<float>*> ws;
            for (int i : g.linears)
                ws.push_back(&weight_of(w, i));
            w_mean = quant::weight_salience(
                ws, cols, static_cast<uint32_t>(q.layout[static_cast<size_t>(g.linears[0])].group));
        }

        // One trial copy of the block; each alpha overwrites the group's quantized linears in
        // it (rows in parallel) and its loss is computed (in parallel inside `loss`). Alphas
        // run one after the other, in an order fixed by the losses alone, so the choice does
        // not depend on the thread count.
        BlockWeights trial = w;
        const auto loss_of = [&](size_t step) {
            const auto s = quant::awq_scales(xm, w_mean, alphas[step]);
            for (int i : g.linears) {
                const auto ui = static_cast<size_t>(i);
                if (q.quantize[ui] &&
                    !(opt.trial_round &&
                      opt.trial_round(i, weight_of(w, i), q.layout[ui], s, weight_of(trial, i))))
                    quant::scaled_fake_quantize(weight_of(w, i), q.layout[ui], s,
                                                weight_of(trial, i), opt.threads);
            }
            ++rep.alphas_evaluated;
            return loss(g, trial);
        };
        size_t best = 0;
        std::vector<double> losses;
        if (opt.alpha) {
            rep.loss_plain = loss_of(0);
            rep.loss_best = loss_of(1);
            best = 1;
        } else {
            best = quant::grid_search_min(alphas.size(),
                                          opt.search == AwqSearch::grid
                                              ? quant::GridSearch::full
                                              : quant::GridSearch::coarse_to_fine,
                                          loss_of, &losses);
            rep.loss_plain = losses[0];
            rep.loss_best = losses[best];
            rep.losses = std::move(losses);
        }
        rep.best_alpha = alphas[best];
        rep.searched = true;
        const auto best_s = quant::awq_scales(xm, w_mean, alphas[best]);
        // Apply: scale the group's columns, fold 1/s into what produces its input.
        for (int i : g.linears) {
            quant::scale_columns(weight_of(w, i), cols, best_s);
            in_scale[static_cast<size_t>(i)] = best_s;
        }
        if (g.name == "qkv") {
            quant::scale_columns(w.input_norm, cols, best_s, true);
        } else if (g.name == "o") {
            quant::scale_rows(w.v, static_cast<uint64_t>(H), best_s, true);
        } else if (g.name == "gate_up") {
            quant::scale_columns(w.post_norm, cols, best_s, true);
        } else {
            quant::scale_rows(w.up, static_cast<uint64_t>(H), best_s, true);
        }
        res.groups.push_back(rep);
        res.times.search[gi] = seconds_since(t0);
    }
    return {};
}

// The clipping bounds of linear `lin` (its scaled weights `w`, whose input was divided by
// `in_scale`, empty when the linear was not scaled).
using ClipSearch =
    std::function<std::vector<float>(int lin, const quant::QuantLayout& l,
                                     std::span<const float> in_scale, const std::vector<float>& w)>;

// Clipping on the scaled weights; never q and k, whose outputs go through the softmax (as the
// reference implementations do).
void clip_linears(BlockWeights& w, const BlockQuant& q, const ClipSearch& search,
                  const std::array<std::vector<float>, 7>& in_scale) {
    for (int i : {kV, kO, kGate, kUp, kDown}) {
        const auto ui = static_cast<size_t>(i);
        if (!q.quantize[ui]) continue;
        auto& wi = weight_of(w, i);
        const auto bounds = search(i, q.layout[ui], in_scale[ui], wi);
        quant::apply_clip(wi, q.layout[ui], bounds);
    }
}

// Which of the block's four inputs linear `lin` reads.
size_t input_of(int lin) {
    return lin <= kV ? 0 : lin == kO ? 1 : lin == kDown ? 3 : 2;
}

// a - b, element by element.
std::vector<float> difference(const std::vector<float>& a, const std::vector<float>& b) {
    std::vector<float> d(a.size());
    for (size_t i = 0; i < d.size(); ++i)
        d[i] = a[i] - b[i];
    return d;
}

// awq_block and awq_block_advance (advance: the windows' outputs, see trace_block).
Result<AwqBlockResult> awq_block_impl(const model::Llama& llama, const BlockWeights& fp,
                                      const std::vector<Activations>& xs,
                                      const std::array<std::vector<float>, 4>& x_mean,
                                      const BlockQuant& q, const AwqOptions& opt,
                                      std::vector<Activations>* advance) {
    if (opt.loss == AwqLoss::per_linear)
        return make_error(Errc::internal, "awq_block: the per-linear loss is awq_block_per_linear");
    SUTRA_TRY(alpha_grid(opt));
    if (xs.empty()) return make_error(Errc::invalid_argument, "awq_block: no calibration windows");
    // Once, outside every parallel region: the guards inside the sub-layers then change nothing.
    const model::SingleThreadedBlas single_threaded;
    const simd::Kernels& kern = simd::active();
    const auto& c = llama.config();
    const int64_t H = c.hidden_size, I = c.intermediate_size, QW = c.q_width();
    std::vector<int64_t> lengths;
    for (const auto& x : xs)
        lengths.push_back(x.rows);
    const std::vector<size_t> keep = awq_loss_windows(lengths, opt.loss_tokens);
    auto t0 = std::chrono::steady_clock::now();
    const BlockTrace tr = trace_block(llama, fp, xs, keep, advance, opt.threads);
    const double trace_seconds = seconds_since(t0);
    const size_t n_win = tr.rows.size();

    // The module's output error against the full-precision block on the loss windows: one
    // window per work item, the terms added in window order.
    const GroupLoss loss = [&](const Group& g, const BlockWeights& trial) -> double {
        // o and down: x·(W' - W)ᵀ is the output error.
        std::vector<float> delta;
        if (g.name == "o") delta = difference(trial.o, fp.o);
        if (g.name == "down") delta = difference(trial.down, fp.down);
        std::vector<double> terms(n_win);
        parallel_for(n_win, opt.threads, [&](size_t k) {
            const int64_t T = tr.rows[k];
            std::vector<float> out(static_cast<size_t>(T * H));
            if (g.name == "qkv") {
                llama.attention_sublayer(trial, tr.xn1[k].data(), T, tr.first_position[k],
                                         out.data());
                terms[k] = kern.sq_diff(out.data(), tr.attn_out[k].data(), out.size());
            } else if (g.name == "o") {
                model::matmul_wt(tr.attn_in[k].data(), T, QW, delta.data(), H, out.data());
                terms[k] = kern.dot(out.data(), out.data(), out.size());
            } else if (g.name == "gate_up") {
                llama.mlp_sublayer(trial, tr.xn2[k].data(), T, out.data());
                terms[k] = kern.sq_diff(out.data(), tr.mlp_out[k].data(), out.size());
            } else {
                model::matmul_wt(tr.act[k].data(), T, I, delta.data(), H, out.data());
                terms[k] = kern.dot(out.data(), out.data(), out.size());
            }
        });
        double e = 0;
        for (const double t : terms)
            e += t;
        return e / static_cast<double>(tr.tokens * static_cast<uint64_t>(H));
    };

    AwqBlockResult res;
    res.weights = fp;
    res.times.trace = trace_seconds;
    std::array<std::vector<float>, 7> in_scale;  // per linear: the scale its input was divided by
    SUTRA_TRY(scale_groups(c, x_mean, q, opt, loss, res, in_scale));
    t0 = std::chrono::steady_clock::now();
    if (opt.clip) {
        // On the traced activations (evenly spaced rows of the loss windows), divided by the
        // same scales as the weights' columns.
        const ClipSearch search = [&](int i, const quant::QuantLayout& l, std::span<const float> s,
                                      const std::vector<float>& wi) {
            const auto& parts = i == kV      ? tr.xn1
                                : i == kO    ? tr.attn_in
                                : i == kDown ? tr.act
                                             : tr.xn2;
            const auto x = sample_rows(parts, s, l.cols, opt.clip_options.max_tokens);
            return quant::search_clip(wi, l, x, x.size() / l.cols, opt.clip_options, opt.threads);
        };
        clip_linears(res.weights, q, search, in_scale);
    }
    res.times.clip = seconds_since(t0);
    res.input_scales = std::move(in_scale);
    return res;
}

}  // namespace

std::vector<size_t> awq_loss_windows(std::span<const int64_t> window_tokens, uint64_t loss_tokens) {
    const size_t W = window_tokens.size();
    uint64_t total = 0;
    for (const int64_t t : window_tokens)
        total += static_cast<uint64_t>(std::max<int64_t>(t, 0));
    size_t k = W;
    if (loss_tokens != 0 && loss_tokens < total) {
        // ceil(loss_tokens * W / total); loss_tokens < total, so the quotient is below W.
        const uint64_t w = W;
        if (loss_tokens <= (std::numeric_limits<uint64_t>::max() - total) / w)
            k = static_cast<size_t>((loss_tokens * w + total - 1) / total);
        else
            k = static_cast<size_t>(
                std::ceil(static_cast<long double>(loss_tokens) * static_cast<long double>(w) /
                          static_cast<long double>(total)));
        k = std::clamp<size_t>(k, 1, W);
    }
    std::vector<size_t> idx(k);
    for (size_t i = 0; i < k; ++i)
        idx[i] = i * W / k;  // i < k <= W: no overflow for fewer than 2^32 windows
    return idx;
}

Result<AwqBlockResult> awq_block(const model::Llama& llama, const BlockWeights& fp,
                                 const std::vector<Activations>& inputs,
                                 const std::array<std::vector<float>, 4>& x_mean,
                                 const BlockQuant& q, const AwqOptions& opt) {
    return awq_block_impl(llama, fp, inputs, x_mean, q, opt, nullptr);
}

void advance_block(const model::Llama& llama, const BlockWeights& fp,
                   std::vector<Activations>& inputs, unsigned threads) {
    (void)trace_block(llama, fp, inputs, {}, &inputs, threads);
}

Result<AwqBlockResult> awq_block_advance(const model::Llama& llama, const BlockWeights& fp,
                                         std::vector<Activations>& inputs,
                                         const std::array<std::vector<float>, 4>& x_mean,
                                         const BlockQuant& q, const AwqOptions& opt) {
    return awq_block_impl(llama, fp, inputs, x_mean, q, opt, &inputs);
}

Result<AwqBlockResult> awq_block_per_linear(const model::LlamaConfig& c, const BlockWeights& fp,
                                            const std::array<std::vector<float>, 4>& x_mean,
                                            const std::array<std::vector<float>, 4>& x_sq,
                                            const BlockQuant& q, const AwqOptions& opt) {
    for (size_t k = 0; k < 4; ++k)
        if (x_sq[k].size() != x_mean[k].size())
            return make_error(Errc::invalid_argument, "layer " + std::to_string(fp.layer) +
                                                          ": the mean x^2 statistics have " +
                                                          std::to_string(x_sq[k].size()) +
                                                          " channels, the salience " +
                                                          std::to_string(x_mean[k].size()));
    AwqBlockResult res;
    res.weights = fp;
    // sum_j E[x_j^2] * sum_i (W'_ij - W_ij)^2 over the group's quantized linears, per output row;
    // W (the reference) is the current weight: each linear's columns are changed by its own
    // group only, so it equals the full-precision one.
    const BlockWeights& now = res.weights;
    const GroupLoss loss = [&](const Group& g, const BlockWeights& trial) -> double {
        double e = 0;
        uint64_t rows = 0;
        for (int i : g.linears) {
            const auto ui = static_cast<size_t>(i);
            if (!q.quantize[ui]) continue;
            e += quant::weighted_sq_error(weight_of(trial, i), weight_of(now, i), q.layout[ui].cols,
                                          x_sq[g.input], opt.threads);
            rows += q.layout[ui].rows;
        }
        return rows ? e / static_cast<double>(rows) : 0.0;
    };
    std::array<std::vector<float>, 7> in_scale;
    SUTRA_TRY(scale_groups(c, x_mean, q, opt, loss, res, in_scale));
    if (opt.clip) {
        // The scaled weights see inputs x / s: their mean square is E[x^2] / s^2.
        const ClipSearch search = [&](int i, const quant::QuantLayout& l, std::span<const float> s,
                                      const std::vector<float>& wi) {
            std::vector<float> d = x_sq[input_of(i)];
            for (size_t j = 0; j < d.size() && !s.empty(); ++j)
                d[j] = static_cast<float>(static_cast<double>(d[j]) /
                                          (static_cast<double>(s[j]) * static_cast<double>(s[j])));
            return quant::search_clip_weighted(wi, l, d, opt.clip_options, opt.threads);
        };
        clip_linears(res.weights, q, search, in_scale);
    }
    res.input_scales = std::move(in_scale);
    return res;
}

}  // namespace sutra::pipeline
