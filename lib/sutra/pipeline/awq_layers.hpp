#pragma once
// AWQ over a whole model, one decoder block at a time: the full-precision model runs block by
// block over the calibration windows (or, for statistics without activations such as a
// llama.cpp imatrix, no forward pass at all: the per-linear loss), each block's weights are
// transformed by awq_block, and the caller takes the transformed block — to quantize it into a
// .qbin (quantize_awq) or to round it to llama.cpp's types (quantize_gguf). Only one block's
// weights and the calibration activations are in memory at a time.
#include <array>
#include <memory>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/calib/calibration.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/llama/llama.hpp"
#include "sutra/model/llama/llama_config.hpp"
#include "sutra/model/weights.hpp"
#include "sutra/pipeline/awq_block.hpp"

namespace sutra::pipeline {

struct AwqLayer {
    int layer = 0;
    AwqBlockResult result;  // transformed weights (scaled, folded, clipped) and the alphas
    // Per linear (kBlockLinears order): mean x^2 of each input channel of the transformed
    // linear, i.e. the calibration statistic divided by the square of the AWQ scale that
    // channel's weights were multiplied by — the importance for rounding the transformed
    // weights (llama.cpp's imatrix semantics).
    std::array<std::vector<float>, 7> importance;
};

class AwqLayerStream {
  public:
    // ck, config and calib must outlive the stream.
    static Result<AwqLayerStream> create(const io::Checkpoint& ck, const model::LlamaConfig& config,
                                         const calib::CalibrationData& calib,
                                         const AwqOptions& options);

    // Transforms the next layer (0, 1, ... in order) for the grids in `bq`, and advances the
    // full-precision activations through that layer's original weights (in the same pass as
    // the search's trace). Only the windows awq_loss_windows picks for options.loss_tokens are
    // carried; on error the stream cannot continue.
    Result<AwqLayer> next(const BlockQuant& bq);
    // Passes the next layer by without transforming it: only advances the activations through
    // it, as next() would (a part's layers before its own).
    Status skip();
    int next_layer() const { return next_; }

  private:
    AwqLayerStream() = default;
    const model::LlamaConfig* config_ = nullptr;
    const calib::CalibrationData* calib_ = nullptr;
    AwqOptions options_;
    std::unique_ptr<model::CheckpointWeights> weights_;
    std::unique_ptr<model::Llama> llama_;
    std::vector<model::Activations> xs_;  // full-precision inputs of the next layer (loss windows)
    bool per_linear_ = false;
    int next_ = 0;
};

}  // namespace sutra::pipeline
