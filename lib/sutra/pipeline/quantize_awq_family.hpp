#pragma once
// The AWQ path of `sutra quantize` for a family without its own (model/family.hpp's block
// view: RWKV, Mamba): the full-precision model runs block by block over the calibration
// windows, awq_family_block transforms each block, and the block's tensors (folded norms,
// scaled and clipped linears, quantized by the plan) go into the .qbin. One block's weights and
// the calibration activations are in memory at a time.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/format/qbin_writer.hpp"
#include "sutra/model/family.hpp"
#include "sutra/pipeline/awq_block.hpp"
#include "sutra/pipeline/progress.hpp"
#include "sutra/pipeline/quantize_awq.hpp"

namespace sutra::pipeline {

// Which tensors AWQ may change (the records' `transformed` flag): every block's linears and
// fold targets, by full name.
std::vector<std::string> family_awq_tensors(const model::Model& model);

// windows: the calibration token windows (each from the initial state). Writes every tensor
// of the model's blocks and sets written[i] for each; the caller writes the rest.
Result<std::vector<AwqLayerReport>> quantize_layers_awq_family(
    model::Model& model, std::span<const std::vector<int32_t>> windows,
    const std::vector<format::QbinRecord>& records, format::QbinWriter& writer,
    const AwqOptions& options, uint64_t chunk_bytes, std::vector<bool>& written,
    ProgressObserver* progress, const std::vector<bool>* only = nullptr);

}  // namespace sutra::pipeline
