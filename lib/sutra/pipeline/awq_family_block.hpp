#pragma once
// AWQ for one block of any model family, through the block view of model/family.hpp (the
// family names its linears, its scaling groups, what each group's 1/s folds into and which
// module output the loss is measured on). The Llama family keeps its own tuned block search
// (awq_block.hpp) for now; this one runs RWKV and Mamba.
//
// Per block:
//   1. trace: the full-precision block runs over every calibration window (advancing them to
//      its output); mean |x| of every linear's input over all windows, and the inputs
//      themselves on the loss windows (awq_loss_windows), are recorded;
//   2. per scaling group with a quantized linear: x_mean = the mean over the group's linears
//      of their mean |x| (linears of one group may see different mixes of the same stream, as
//      RWKV's token shift gives them); for alpha on the grid, s = awq_scales(x_mean, alpha),
//      the group's quantized linears become Q(W·diag(s))·diag(1/s) and the loss is the mean
//      squared error against the unquantized output: of the module the family names, run on
//      the loss windows, or, without one, of the group's linears on their recorded inputs. The
//      best alpha's s scales the group's weight columns and 1/s is folded (ScaleGroup::Fold);
//   3. clipping (AwqOptions::clip): per quantized linear whose BlockLinear allows it, the
//      per-group bound minimising its output error on the recorded inputs (divided by its s).
// The result computes the same function as the block before quantization (up to rounding):
// test/unit/pipeline/awq_family_block_test.cpp checks it for each family.
#include <map>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/family.hpp"
#include "sutra/pipeline/awq_block.hpp"
#include "sutra/quant/layout.hpp"

namespace sutra::pipeline {

using LinearLayouts = std::map<std::string, quant::QuantLayout, std::less<>>;

struct FamilyAwqResult {
    model::BlockTensors weights;  // transformed: scaled, folded, clipped
    std::vector<AwqGroupReport> groups;
    // Per scaled linear: the s its weight columns were multiplied by.
    std::map<std::string, std::vector<float>, std::less<>> input_scales;
};

// fp: the block's tensors (model.load_block). inputs: the block's input on every window (each
// from the initial state), replaced by the full-precision block's output. layouts: the
// linears to quantize, by BlockLinear name; the others are left as they are. Uses (and clears)
// the model's linear observer. opt.loss must not be per_linear; opt.trial_round is not used.
Result<FamilyAwqResult> awq_family_block(model::Model& model, const model::BlockTensors& fp,
                                         std::vector<model::Activations>& inputs,
                                         const LinearLayouts& layouts, const AwqOptions& opt);

}  // namespace sutra::pipeline
