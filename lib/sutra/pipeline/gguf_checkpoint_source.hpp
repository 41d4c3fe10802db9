#pragma once
// A checkpoint as a GGUF source (gguf_source.hpp) for `sutra quantize --format gguf`:
//   - without calibration, its tensors as they are (converted to f32);
//   - with calibration statistics and AWQ (awq = true), each decoder block AWQ-transformed
//     when its first tensor is read (AwqLayerStream: scales searched and clipping chosen on
//     the grid of the GGUF type each linear is written in, 1/s folded into the norms / the
//     preceding linear), and the importance of every transformed linear's input columns
//     (mean x^2 / s^2), so that the ggml encoders round with an activation-aware objective;
//   - with statistics but without AWQ (--method rtn), the checkpoint's weights with the
//     statistics' importance (llama.cpp's imatrix use).
// The head (lm_head) gets the statistics of its input as importance; embeddings none.
#include <memory>
#include <optional>

#include "sutra/calib/calibration.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/llama/llama_config.hpp"
#include "sutra/pipeline/awq_layers.hpp"
#include "sutra/pipeline/gguf_source.hpp"
#include "sutra/pipeline/quantize_awq.hpp"

namespace sutra::pipeline {

// The sutra grid AWQ searches on for a ggml type: its bits and its (sub-)block width, with
// an asymmetric scale and zero per group (k-quants: their 32- or 16-wide sub-blocks). nullopt
// for F32 / F16 (not quantized).
std::optional<quant::QuantLayout> awq_proxy_layout(quant::GgmlType type, uint64_t rows,
                                                   uint64_t cols);

class CheckpointGgufSource final : public GgufSource {
  public:
    // ck, config and calib (may be null) must outlive the source.
    static Result<std::unique_ptr<CheckpointGgufSource>> create(const io::Checkpoint& ck,
                                                                const model::LlamaConfig& config,
                                                                const calib::CalibrationData* calib,
                                                                bool awq,
                                                                const AwqOptions& options);

    const std::vector<GgufSourceTensor>& tensors() const override { return tensors_; }
    Status plan(const std::vector<quant::GgmlType>& types) override;
    Status read_rows(size_t i, uint64_t row0, uint64_t n, float* out) override;
    const std::vector<float>* importance(size_t i) override;
    Status check_unchanged() const override { return ck_->check_unchanged(); }

    // Per layer: the alphas AWQ chose (for the report).
    const std::vector<AwqLayerReport>& awq_reports() const { return reports_; }

  private:
    CheckpointGgufSource() = default;
    // Makes layer `layer` the current transformed block (layers only move forward).
    Status enter_layer(int layer);
    const std::vector<float>* block_tensor(size_t i);

    const io::Checkpoint* ck_ = nullptr;
    const model::LlamaConfig* config_ = nullptr;
    const calib::CalibrationData* calib_ = nullptr;
    std::vector<GgufSourceTensor> tensors_;
    std::vector<quant::GgmlType> types_;
    std::vector<int> layer_of_;           // per tensor: its decoder layer, -1 outside blocks
    std::vector<std::string> suffix_of_;  // per tensor: the name after "model.layers.N."
    std::optional<AwqLayerStream> stream_;
    std::optional<AwqLayer> current_;
    std::vector<AwqLayerReport> reports_;
    std::vector<float> scratch_importance_;
};

}  // namespace sutra::pipeline
