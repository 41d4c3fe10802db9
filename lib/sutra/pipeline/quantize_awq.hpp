#pragma once
// The AWQ path of `sutra quantize`: runs the full-precision model block by block over the
// calibration windows, transforms each block's weights with awq_block, and writes the block's
// tensors (folded norms, biases, quantized linears) into the .qbin. Only one block's weights
// and the calibration activations are in memory at a time.
#include <cstdint>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/calib/calibration.hpp"
#include "sutra/format/qbin_writer.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/llama/llama_config.hpp"
#include "sutra/pipeline/awq_block.hpp"
#include "sutra/pipeline/progress.hpp"

namespace sutra::pipeline {

struct AwqLayerReport {
    int layer = 0;
    std::vector<AwqGroupReport> groups;
};

// Writes every record of the model's decoder blocks and sets written[i] for each; the caller
// writes the rest (embeddings, final norm, head, anything else) as usual. `only` (a part's
// records, or null for all): the blocks without any are passed by (the activations still
// move through those before the last block of the part) and not written.
Result<std::vector<AwqLayerReport>> quantize_layers_awq(
    const io::Checkpoint& ck, const model::LlamaConfig& config,
    const std::vector<format::QbinRecord>& records, format::QbinWriter& writer,
    const calib::CalibrationData& calib, const AwqOptions& options, uint64_t chunk_bytes,
    std::vector<bool>& written, ProgressObserver* progress,
    const std::vector<bool>* only = nullptr);

}  // namespace sutra::pipeline
