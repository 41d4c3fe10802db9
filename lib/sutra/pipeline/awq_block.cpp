#include "sutra/pipeline/awq_block.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

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

double sq_diff(const std::vector<float>& a, const std::vector<float>& b) {
    return simd::active().sq_diff(a.data(), b.data(), a.size());
}

// The activations seen inside the block on every window, full precision.
struct BlockTrace {
    std::vector<std::vector<float>> xn1;       // input of q/k/v (normalised) [T, H]
    std::vector<std::vector<float>> attn_in;   // input of o [T, q_width]
    std::vector<std::vector<float>> attn_out;  // self-attention output [T, H]
    std::vector<std::vector<float>> xn2;       // input of gate/up [T, H]
    std::vector<std::vector<float>> act;       // input of down [T, I]
    std::vector<std::vector<float>> mlp_out;   // MLP output [T, H]
    uint64_t tokens = 0;
};

BlockTrace trace_block(const model::Llama& llama, const BlockWeights& w,
                       const std::vector<Activations>& xs) {
    const auto& c = llama.config();
    const int64_t H = c.hidden_size;
    BlockTrace t;
    for (const auto& x : xs) {
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
        t.xn1.push_back(std::move(xn1));
        t.attn_in.push_back(std::move(ain));
        t.attn_out.push_back(std::move(aout));
        t.xn2.push_back(std::move(xn2));
        t.act.push_back(std::move(act));
        t.mlp_out.push_back(std::move(mout));
        t.tokens += static_cast<uint64_t>(T);
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

std::vector<float> concat_rows(const std::vector<std::vector<float>>& parts,
                               std::span<const float> divide_by, uint64_t cols) {
    std::vector<float> out;
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    if (!divide_by.empty())
        for (size_t i = 0; i < out.size(); ++i)
            out[i] /= divide_by[i % cols];
    return out;
}

// The alphas evaluated: the grid, or 0 (for loss_plain) and the forced one.
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
// by their scaled, quantized and unscaled versions). Called from several threads at once.
using GroupLoss = std::function<double(const Group& g, BlockWeights& trial)>;

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
    for (const auto& g : block_groups()) {
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

        // Every alpha on its own copy of the weights, in parallel; the first minimum wins, as
        // in a sequential search, so the choice does not depend on the thread count.
        std::vector<double> losses(alphas.size());
        std::vector<std::vector<float>> trial_scales(alphas.size());
        parallel_for(alphas.size(), opt.threads, [&](size_t step) {
            const float alpha = alphas[step];
            auto s = quant::awq_scales(xm, w_mean, alpha);
            BlockWeights trial = w;
            for (int i : g.linears) {
                const auto ui = static_cast<size_t>(i);
                auto& tw = weight_of(trial, i);
                if (!q.quantize[ui]) continue;
                quant::scale_columns(tw, cols, s);
                tw = quant::fake_quantize(tw, q.layout[ui]);
                quant::scale_columns(tw, cols, s, true);
            }
            losses[step] = loss(g, trial);
            trial_scales[step] = std::move(s);
        });
        double best = std::numeric_limits<double>::infinity();
        std::vector<float> best_s;
        rep.loss_plain = losses[0];
        for (size_t step = 0; step < losses.size(); ++step) {
            if (losses[step] < best || (opt.alpha && step == 1)) {
                best = losses[step];
                best_s = trial_scales[step];
                rep.best_alpha = alphas[step];
            }
        }
        rep.searched = true;
        rep.loss_best = best;
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

}  // namespace

Result<AwqBlockResult> awq_block(const model::Llama& llama, const BlockWeights& fp,
                                 const std::vector<Activations>& inputs,
                                 const std::array<std::vector<float>, 4>& x_mean,
                                 const BlockQuant& q, const AwqOptions& opt) {
    if (opt.loss == AwqLoss::per_linear)
        return make_error(Errc::internal, "awq_block: the per-linear loss is awq_block_per_linear");
    SUTRA_TRY(alpha_grid(opt));
    const model::SingleThreadedBlas single_threaded;
    const auto& c = llama.config();
    const int64_t H = c.hidden_size, I = c.intermediate_size, QW = c.q_width();
    const BlockTrace tr = trace_block(llama, fp, inputs);

    // The module's output error against the full-precision block on the calibration windows.
    const GroupLoss loss = [&](const Group& g, BlockWeights& trial) -> double {
        double e = 0;
        for (size_t k = 0; k < inputs.size(); ++k) {
            const int64_t T = inputs[k].rows;
            if (g.name == "qkv") {
                std::vector<float> out(static_cast<size_t>(T * H));
                llama.attention_sublayer(trial, tr.xn1[k].data(), T, inputs[k].first_position,
                                         out.data());
                e += sq_diff(out, tr.attn_out[k]);
            } else if (g.name == "o") {
                std::vector<float> out(static_cast<size_t>(T * H));
                model::matmul_wt(tr.attn_in[k].data(), T, QW, trial.o.data(), H, out.data());
                std::vector<float> ref(static_cast<size_t>(T * H));
                model::matmul_wt(tr.attn_in[k].data(), T, QW, fp.o.data(), H, ref.data());
                e += sq_diff(out, ref);
            } else if (g.name == "gate_up") {
                std::vector<float> out(static_cast<size_t>(T * H));
                llama.mlp_sublayer(trial, tr.xn2[k].data(), T, out.data());
                e += sq_diff(out, tr.mlp_out[k]);
            } else {
                std::vector<float> out(static_cast<size_t>(T * H)), ref(static_cast<size_t>(T * H));
                model::matmul_wt(tr.act[k].data(), T, I, trial.down.data(), H, out.data());
                model::matmul_wt(tr.act[k].data(), T, I, fp.down.data(), H, ref.data());
                e += sq_diff(out, ref);
            }
        }
        return e / static_cast<double>(tr.tokens * static_cast<uint64_t>(H));
    };

    AwqBlockResult res;
    res.weights = fp;
    std::array<std::vector<float>, 7> in_scale;  // per linear: the scale its input was divided by
    SUTRA_TRY(scale_groups(c, x_mean, q, opt, loss, res, in_scale));
    if (opt.clip) {
        // On the traced activations, divided by the same scales as the weights' columns.
        const ClipSearch search = [&](int i, const quant::QuantLayout& l, std::span<const float> s,
                                      const std::vector<float>& wi) {
            const auto& parts = i == kV      ? tr.xn1
                                : i == kO    ? tr.attn_in
                                : i == kDown ? tr.act
                                             : tr.xn2;
            const auto x = concat_rows(parts, s, l.cols);
            return quant::search_clip(wi, l, x, x.size() / l.cols, opt.clip_options, opt.threads);
        };
        clip_linears(res.weights, q, search, in_scale);
    }
    res.input_scales = std::move(in_scale);
    return res;
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
    const GroupLoss loss = [&](const Group& g, BlockWeights& trial) -> double {
        double e = 0;
        uint64_t rows = 0;
        for (int i : g.linears) {
            const auto ui = static_cast<size_t>(i);
            if (!q.quantize[ui]) continue;
            e += quant::weighted_sq_error(weight_of(trial, i), weight_of(now, i), q.layout[ui].cols,
                                          x_sq[g.input]);
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
