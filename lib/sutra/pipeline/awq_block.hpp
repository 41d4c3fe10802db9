#pragma once
// AWQ for one decoder block of a Llama-family model: given the block's full-precision weights
// and its full-precision input activations on the calibration windows, search per-input-channel
// scales for each group of linears that share an input, fold 1/s into the preceding norm or
// linear, search per-group clipping bounds, and return the transformed weights, ready for
// round-to-nearest quantization. The transformed block computes the same function as the
// original (before quantization) up to float rounding.
//
// Scaling groups (as in llm-awq / AutoAWQ):
//   qkv:     q, k, v after input_layernorm          loss: self-attention output (o_proj included;
//                                                   for qwen3 the q/k norms too: they act on
//                                                   q and k after the projection, so folding
//                                                   1/s into input_layernorm stays exact)
//   o:       o after v (only when v's output width equals o's input width, i.e. no GQA, and v
//            has no bias; v has no norm in any family, so folding into v's rows is exact)
//                                                   loss: o_proj output
//   gate_up: gate, up after post_attention_layernorm loss: MLP output (down_proj included)
//   down:    down after up                          loss: down_proj output
// Losses are mean squared errors against the full-precision sub-layer, with the group's
// linears quantized (and scaled back) and everything else in full precision. For o and down
// the error is computed as x·(W' - W)ᵀ (one product instead of two).
//
// Cost: the module losses and the clipping use the windows awq_loss_windows picks for
// AwqOptions::loss_tokens (the salience statistics x_mean always cover all calibration
// tokens), and AwqOptions::search = fast looks at 9 of the 20 alphas (coarse to fine; the
// grid's own alpha whenever the loss is unimodal in alpha). Windows are traced, and each
// alpha's loss terms computed, on AwqOptions::threads threads, one window per work item with
// single-threaded BLAS, and summed in window order: the result does not depend on the thread
// count.
//
// Without activations (statistics only: a llama.cpp imatrix, calib/IMATRIX.md), the same
// groups, scales and folds, with the per-linear loss (awq_block_per_linear): the output error
// of a linear W for inputs whose channels are taken as uncorrelated, i.e. with only the
// diagonal of E[x xᵀ],
//     E ||(W' - W) x||^2  ~  sum_j E[x_j^2] * sum_i (W'_ij - W_ij)^2,
//     W' = Q(W·diag(s))·diag(1/s),
// summed over the group's quantized linears and divided by their rows; the clipping search
// minimises the same weighted error per (row, group) of the scaled weights, whose inputs have
// mean square E[x_j^2] / s_j^2.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/llama/llama.hpp"
#include "sutra/quant/awq.hpp"
#include "sutra/quant/layout.hpp"

namespace sutra::pipeline {

// The loss the alphas and the clipping are chosen on.
enum class AwqLoss {
    module_output,  // the module's output on calibration activations (awq_block)
    per_linear,     // each linear's output from E[x^2] alone (awq_block_per_linear)
};

// How the alpha grid is searched (quant::GridSearch): every point, or coarse to fine.
enum class AwqSearch { grid, fast };

struct AwqOptions {
    int grid = 20;  // alpha = 0, 1/grid, ..., (grid-1)/grid
    // fast by default: 9 of 20 alphas, on stories260K the grid's alpha in 40 of 45 groups and
    // a KL within noise of the grid's (measurements: README, AWQ).
    AwqSearch search = AwqSearch::fast;
    // Calibration tokens the module losses and the clipping search run on: that many tokens
    // in evenly spaced whole windows (awq_loss_windows); 0 = every window. Only these windows
    // are carried through the model by AwqLayerStream. Unused by the per-linear loss. 4096
    // (16 windows of 256): on stories260K no KL change beyond noise against all 16384, where
    // 1024 costs 8% at 4-bit g64.
    uint64_t loss_tokens = 4096;
    bool duo_scaling = false;  // s = x^alpha / w^(1-alpha) instead of x^alpha
    bool clip = true;          // per-group clipping search (never for q and k)
    // When set (in [0, 1]), no search: every group takes this alpha (ablations, and tests of
    // the folding: with clip off the result is the exact transform of the block).
    std::optional<float> alpha;
    quant::ClipOptions clip_options;
    // Unset: module_output when calibration activations exist (statistics from `sutra
    // calibrate`, or text), per_linear for a llama.cpp imatrix, which has none.
    std::optional<AwqLoss> loss;
    // Threads for the trace (windows), the search (each alpha's windows, or rows for the
    // per-linear loss) and the clipping (rows); the result is the same for every thread count.
    unsigned threads = 1;
    // When set, the rounding each trial of the scale search is evaluated with instead of RTN
    // (AWQ + GPTQ: GPTQ's): out = R(W·diag(s))·diag(1/s) for the linear of index `linear`
    // (kBlockLinears order); returning false falls back to RTN for that trial. Called from
    // one thread at a time.
    std::function<bool(int linear, const std::vector<float>& w, const quant::QuantLayout& l,
                       std::span<const float> s, std::vector<float>& out)>
        trial_round;
};

// How each of the seven linears of a block is stored: quantized with a layout, or kept.
// Index order: q, k, v, o, gate, up, down.
inline constexpr std::array<const char*, 7> kBlockLinears = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
struct BlockQuant {
    std::array<bool, 7> quantize{};
    std::array<quant::QuantLayout, 7> layout{};
};

struct AwqGroupReport {
    std::string group;  // "qkv", "o", "gate_up", "down"
    bool searched = false;
    float best_alpha = 0;
    double loss_plain = 0;  // alpha = 0: no scaling (plain RTN of the group)
    double loss_best = 0;
    int alphas_evaluated = 0;  // how many alphas the search computed the loss of
    // The loss of every grid alpha (index step: alpha = step / grid), NaN where the search did
    // not evaluate it; empty with a forced alpha.
    std::vector<double> losses;
};

// Wall-clock seconds of the parts of one block's AWQ (for profiles; never written out).
struct AwqBlockTimes {
    double trace = 0;                // full-precision block over the calibration windows
    std::array<double, 4> search{};  // alpha search of qkv, o, gate_up, down
    double clip = 0;                 // clipping search of every linear
};

struct AwqBlockResult {
    model::BlockWeights weights;  // transformed: scaled, folded, clipped
    std::vector<AwqGroupReport> groups;
    AwqBlockTimes times;
    // Per linear (kBlockLinears order): the scale s its weight columns were multiplied by (and
    // its input divided by); empty when the linear was not scaled.
    std::array<std::vector<float>, 7> input_scales;
};

// The windows (indices into window_tokens, each entry a window's token count) that a budget
// of loss_tokens uses: all of them when loss_tokens is 0 or at least the total; else the
// k = ceil(loss_tokens * W / total) windows floor(i * W / k), i < k, of the W windows (for
// windows of equal length L: ceil(loss_tokens / L) windows spread evenly over the set).
// Applied to its own result it returns every index again.
std::vector<size_t> awq_loss_windows(std::span<const int64_t> window_tokens, uint64_t loss_tokens);

// x_mean: mean |x| per input channel for the inputs of q (= k = v), o, gate (= up), down, from
// the calibration statistics. inputs: the block's input activations, one per window (each a
// sequence starting at position 0); the losses use the awq_loss_windows of them.
Result<AwqBlockResult> awq_block(const model::Llama& llama, const model::BlockWeights& fp,
                                 const std::vector<model::Activations>& inputs,
                                 const std::array<std::vector<float>, 4>& x_mean,
                                 const BlockQuant& q,
                                 const AwqOptions& opt);  // opt.loss must not be per_linear

// Only moves `inputs` through the full-precision block, as awq_block_advance does, bit for
// bit, without a search (the blocks before a part's first: parts/part_plan.hpp).
void advance_block(const model::Llama& llama, const model::BlockWeights& fp,
                   std::vector<model::Activations>& inputs, unsigned threads);

// awq_block that also moves `inputs` through the full-precision block in the same pass: on
// success each window holds what model::Llama::run_block(fp, window) gives, bit for bit (on
// error, `inputs` is unspecified). Every window is advanced; the losses use the
// awq_loss_windows of them.
Result<AwqBlockResult> awq_block_advance(const model::Llama& llama, const model::BlockWeights& fp,
                                         std::vector<model::Activations>& inputs,
                                         const std::array<std::vector<float>, 4>& x_mean,
                                         const BlockQuant& q, const AwqOptions& opt);

// The per-linear loss (above), without activations. x_mean: the salience statistic s is
// computed from (mean |x|, or sqrt(mean x^2) where only that exists); x_sq: mean x^2 per input
// channel, the loss weights; both for the inputs of q (= k = v), o, gate (= up), down.
Result<AwqBlockResult> awq_block_per_linear(const model::LlamaConfig& c,
                                            const model::BlockWeights& fp,
                                            const std::array<std::vector<float>, 4>& x_mean,
                                            const std::array<std::vector<float>, 4>& x_sq,
                                            const BlockQuant& q, const AwqOptions& opt);

}  // namespace sutra::pipeline
