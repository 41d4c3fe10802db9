#pragma once
// GPTQ for one block of any model family, through the block view of model/family.hpp (the
// family names its linears, the groups of linears that read one input, and runs the block with
// given tensors). The Llama family keeps its own GPTQ block (gptq_block.hpp); this one runs
// RWKV and Mamba (and Llama through the generic view).
//
// Per block:
//   - one Hessian sum Σ x xᵀ PER LINEAR, from the inputs the linear observer reports for that
//     linear's name (RWKV's key, value and receptance read different token-shift mixes of one
//     stream, so linears of a group do not share one);
//   - stages (gptq_family_stages): the linears of one scaling group (one input stream, none
//     feeding another) form a stage, a linear in no group is a stage alone; stages go in the
//     order of their first linear in block_linears;
//   - sequential inputs (GptqBlockOptions::sequential, the default): for each stage with a
//     quantized linear, the block runs over every window with the current tensors (the linears
//     of earlier stages replaced by what their GPTQ codes decode to), collecting only this
//     stage's Hessians; its linears are rounded and replaced. Full-precision inputs: one pass
//     with the given tensors collects every Hessian;
//   - the windows are then advanced through the fully quantized block (sequential) or the
//     given one (full precision).
// Windows run one at a time (run_block_with on a copy of the window) and the Hessians add in
// window order, so nothing depends on the thread count (GptqBlockOptions::threads only spreads
// the Hessian tiles and GPTQ's rows).
//
// The given tensors may be AWQ-transformed (awq_family_block): GPTQ then rounds the scaled
// linears on the inputs the transformed block produces (the AWQ + GPTQ method).
#include <map>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/family.hpp"
#include "sutra/pipeline/awq_family_block.hpp"
#include "sutra/pipeline/gptq_block.hpp"
#include "sutra/quant/gptq.hpp"

namespace sutra::pipeline {

// The stages of a block: each the BlockLinear names of one scaling group (in block_linears
// order), or a single linear in no group; ordered by their first linear's block_linears
// position.
std::vector<std::vector<std::string>> gptq_family_stages(const model::Model& model, int layer);

using FamilyHessians = std::map<std::string, quant::HessianSum, std::less<>>;

// The Hessian sums of the linears `names` (BlockLinear names of w's block) over `inputs`, run
// one window at a time through run_block_with(w) on a copy (`inputs` is not changed), added in
// window order. Uses (and clears) the model's linear observer. An error when a linear's input
// is never reported. `hessian_seconds` (may be null) gets the wall time spent adding.
Result<FamilyHessians> gptq_family_hessians(model::Model& model, const model::BlockTensors& w,
                                            const std::vector<model::Activations>& inputs,
                                            const std::vector<std::string>& names, unsigned threads,
                                            double* hessian_seconds = nullptr);

struct FamilyGptqResult {
    // Per quantized linear (BlockLinear name): its codes, scales and zero points.
    std::map<std::string, quant::GptqResult, std::less<>> quantized;
    std::vector<GptqLinearReport> linears;  // the quantized ones, in the order rounded
    GptqTimes times;
};

// w: the block's tensors (model.load_block, or AWQ-transformed ones; not changed). inputs: the
// block's input on every window (each from the initial state), replaced by the block's output
// (of the quantized block when opt.sequential, else of w). layouts: the linears to quantize, by
// BlockLinear name; the others stay as they are.
Result<FamilyGptqResult> gptq_family_block(model::Model& model, const model::BlockTensors& w,
                                           std::vector<model::Activations>& inputs,
                                           const LinearLayouts& layouts,
                                           const GptqBlockOptions& opt);

}  // namespace sutra::pipeline
