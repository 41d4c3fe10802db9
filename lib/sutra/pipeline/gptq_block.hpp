#pragma once
// GPTQ for one decoder block of a Llama-family model. The block runs over the calibration
// windows one sub-layer at a time; each linear's Hessian sum Σ x xᵀ comes from the inputs it
// sees, q/k/v (and gate/up) share theirs, and the linears are rounded by quant/gptq in the
// order the block uses them: q, k, v; o; gate, up; down.
//
// Inputs (GptqBlockOptions::sequential):
//   sequential (default; the reference's "true sequential"): each linear sees the block with
//     the linears before it already quantized, and the block's output (the next block's
//     input) comes from the fully quantized block — the inputs of the quantized-so-far model;
//   full precision: every input comes from the block's given weights, unquantized.
// The given weights may be AWQ-transformed (scaled and folded): GPTQ then rounds the scaled
// weights on the inputs the transformed block produces (x / s), as the AWQ + GPTQ method does.
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/llama/llama.hpp"
#include "sutra/pipeline/awq_block.hpp"
#include "sutra/quant/gptq.hpp"

namespace sutra::pipeline {

struct GptqBlockOptions {
    quant::GptqOptions gptq;
    bool sequential = true;
    // Per linear, the output error on the calibration inputs of GPTQ's rounding and of plain
    // RTN's, ||X Wᵀ - X Qᵀ||² = Σ_rows (w - q) (XᵀX) (w - q)ᵀ (costs a product per linear).
    bool measure_error = false;
    unsigned threads = 1;
};

struct GptqLinearReport {
    std::string linear;  // "self_attn.q_proj", ...
    uint64_t dead_columns = 0;
    double error_gptq = 0, error_rtn = 0;  // with measure_error
};

// Thread-seconds per step, summed over a run.
struct GptqTimes {
    double forward = 0, hessian = 0, factor = 0, update = 0;
    GptqTimes& operator+=(const GptqTimes& o) {
        forward += o.forward;
        hessian += o.hessian;
        factor += o.factor;
        update += o.update;
        return *this;
    }
};

struct GptqBlockResult {
    std::array<std::optional<quant::GptqResult>, 7> quantized;  // kBlockLinears order
    std::vector<GptqLinearReport> linears;                      // the quantized ones
    GptqTimes times;
};

// The Hessian sums Σ x xᵀ of the block's four inputs (q = k = v, o, gate = up, down) on `xs`
// with the weights `w` unquantized, for the inputs of the linears `q` quantizes (the others
// stay empty); `xs` is not changed (non-const only to share the block runner).
using BlockHessians = std::array<std::optional<quant::HessianSum>, 4>;
Result<BlockHessians> block_hessians(const model::Llama& llama, const model::BlockWeights& w,
                                     std::vector<model::Activations>& xs, const BlockQuant& q,
                                     unsigned threads);

// w: the block's weights (not changed). xs: the block's input on every window, replaced by
// its output (of the quantized block when sequential, else of w).
Result<GptqBlockResult> gptq_block(const model::Llama& llama, const model::BlockWeights& w,
                                   std::vector<model::Activations>& xs, const BlockQuant& q,
                                   const GptqBlockOptions& opt);

}  // namespace sutra::pipeline
