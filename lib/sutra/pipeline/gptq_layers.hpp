#pragma once
// GPTQ over a whole model, one decoder block at a time (pipeline/gptq_block), alone or after
// AWQ's scale search (the AWQ + GPTQ method): the calibration windows run through the model
// block by block — through the quantized blocks (sequential inputs, the default) or the
// unquantized ones — and each block's linears are rounded by GPTQ. For AWQ + GPTQ, AWQ's own
// full-precision pass (pipeline/awq_layers) chooses the scales, and GPTQ rounds the scaled
// weights on the transformed block's inputs. Memory: one block's weights, its Hessians and the
// calibration activations (twice for AWQ + GPTQ).
#include <memory>
#include <optional>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/calib/calibration.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/llama/llama.hpp"
#include "sutra/model/weights.hpp"
#include "sutra/pipeline/awq_layers.hpp"
#include "sutra/pipeline/gptq_block.hpp"

namespace sutra::pipeline {

struct GptqStreamOptions {
    GptqBlockOptions block;
    std::optional<AwqOptions> awq;  // set: AWQ + GPTQ
    // AWQ + GPTQ: AWQ's scale search rounds each trial with GPTQ (the Hessians of the block's
    // inputs on GPTQ's calibration inputs, divided by the trial scales) instead of RTN, so the
    // scales are chosen for the rounding that follows.
    bool gptq_in_search = true;
};

// The rounding state AWQ's search uses with gptq_in_search: the current block's Hessians.
struct GptqTrialState;

struct GptqLayer {
    int layer = 0;
    // The block as stored: the original weights, or AWQ's transformed ones (norms and the
    // rows of v / up carry the folded 1/s); the quantized linears are in `gptq`.
    model::BlockWeights weights;
    GptqBlockResult gptq;
    std::vector<AwqGroupReport> awq_groups;  // AWQ + GPTQ: the alphas chosen
};

class GptqLayerStream {
  public:
    // ck, config and calib must outlive the stream.
    static Result<GptqLayerStream> create(const io::Checkpoint& ck,
                                          const model::LlamaConfig& config,
                                          const calib::CalibrationData& calib,
                                          const GptqStreamOptions& options);
    // Quantizes the next layer (0, 1, ... in order) for the grids in `bq`.
    Result<GptqLayer> next(const BlockQuant& bq);
    // Passes the next layer by (a part's layers before its own): with full-precision inputs
    // only, the inputs advance through the original block as next() would advance them.
    Status skip();

  private:
    GptqLayerStream() = default;
    const model::LlamaConfig* config_ = nullptr;
    GptqStreamOptions options_;
    std::unique_ptr<model::CheckpointWeights> weights_;
    std::unique_ptr<model::Llama> llama_;
    std::vector<model::Activations> xs_;  // GPTQ's inputs of the next layer
    std::optional<AwqLayerStream> awq_;
    std::shared_ptr<GptqTrialState> trial_;
    int next_ = 0;
};

}  // namespace sutra::pipeline
