#pragma once
// The GPTQ and AWQ + GPTQ paths of `sutra quantize` for a family without its own (model/
// family.hpp's block view: RWKV, Mamba): the calibration windows run through the model block by
// block — through the quantized blocks (sequential inputs, the default) or the unquantized ones
// — and gptq_family_block rounds each block's linears. For AWQ + GPTQ, awq_family_block first
// transforms the block on a copy of GPTQ's inputs of the block (the quantized-so-far model's
// when sequential; AWQ's trials rounded by RTN), and GPTQ rounds the transformed linears on the
// inputs of the transformed block. Unlike Llama's AWQ + GPTQ there is no separate
// full-precision stream for AWQ. Memory: one block's tensors twice, the calibration
// activations (twice for AWQ + GPTQ), the Hessians of the widest stage.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/format/qbin_writer.hpp"
#include "sutra/model/family.hpp"
#include "sutra/pipeline/awq_block.hpp"
#include "sutra/pipeline/gptq_block.hpp"
#include "sutra/pipeline/progress.hpp"
#include "sutra/pipeline/quantize_gptq.hpp"

namespace sutra::pipeline {

struct FamilyGptqOptions {
    GptqBlockOptions block;
    std::optional<AwqOptions> awq;  // set: AWQ + GPTQ (opt.loss must not be per_linear)
};

// windows: the calibration token windows (each from the initial state). Writes every tensor
// of the model's blocks — the quantized linears as GPTQ's codes, the others as stored (raw, or
// rounded to nearest where the plan quantizes them) — and sets written[i] for each; the caller
// writes the rest.
Result<GptqRunReport> quantize_layers_gptq_family(model::Model& model,
                                                  std::span<const std::vector<int32_t>> windows,
                                                  const std::vector<format::QbinRecord>& records,
                                                  format::QbinWriter& writer,
                                                  const FamilyGptqOptions& options,
                                                  uint64_t chunk_bytes, std::vector<bool>& written,
                                                  ProgressObserver* progress);

// What quantize_layers_gptq_family holds at its peak, roughly, in bytes: one block's f32
// linears twice (given and running; three times with AWQ), the calibration activations
// (`windows` of `seq_len` rows of the residual stream; twice with AWQ) and one window's run,
// the Hessian sums of the widest stage (of the whole block with fp_inputs: one pass collects
// them all) in double, and one factorisation (double, one more copy with act-order, and the
// f32 factor).
uint64_t gptq_family_memory_estimate(const model::Model& model, uint64_t windows, uint64_t seq_len,
                                     bool act_order, bool with_awq, bool fp_inputs);

}  // namespace sutra::pipeline
