#pragma once
// The decoder blocks of a .qbin by GPTQ or AWQ + GPTQ (pipeline/gptq_layers): every linear's
// codes as GPTQ chose them, on RTN's grid, so the format is the one RTN and AWQ write.
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/calib/calibration.hpp"
#include "sutra/format/qbin_writer.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/llama/llama_config.hpp"
#include "sutra/pipeline/gptq_layers.hpp"
#include "sutra/pipeline/progress.hpp"

namespace sutra::pipeline {

struct GptqLayerReport {
    int layer = 0;
    std::vector<GptqLinearReport> linears;
    std::vector<AwqGroupReport> awq_groups;  // AWQ + GPTQ
};

struct GptqRunReport {
    std::vector<GptqLayerReport> layers;
    GptqTimes times;
};

// Writes every record of the model's decoder blocks and sets written[i] for each; the caller
// writes the rest (embeddings, final norm, head) as usual.
Result<GptqRunReport> quantize_layers_gptq(const io::Checkpoint& ck,
                                           const model::LlamaConfig& config,
                                           const std::vector<format::QbinRecord>& records,
                                           format::QbinWriter& writer,
                                           const calib::CalibrationData& calib,
                                           const GptqStreamOptions& options,
                                           std::vector<bool>& written, ProgressObserver* progress,
                                           const std::vector<bool>* only = nullptr);

}  // namespace sutra::pipeline
