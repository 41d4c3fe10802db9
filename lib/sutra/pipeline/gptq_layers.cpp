#include "sutra/pipeline/gptq_layers.hpp"

namespace sutra::pipeline {

Result<GptqLayerStream> GptqLayerStream::create(const io::Checkpoint& ck,
                                                const model::LlamaConfig& config,
                                                const calib::CalibrationData& calib,
                                                const GptqStreamOptions& options) {
    GptqLayerStream s;
    s.config_ = &config;
    s.options_ = options;
    s.weights_ = std::make_unique<model::CheckpointWeights>(ck);
    SUTRA_ASSIGN(model::Llama llama, model::Llama::create(config, *s.weights_));
    s.llama_ = std::make_unique<model::Llama>(std::move(llama));
    for (auto win : calib::windows_of(calib)) {
        model::Activations x;
        SUTRA_TRY(s.llama_->embed(win, 0, x));
        s.xs_.push_back(std::move(x));
    }
    if (s.xs_.empty())
        return make_error(Errc::invalid_argument,
                          "GPTQ needs calibration activations and the calibration data holds no "
                          "windows (a llama.cpp imatrix has none); calibrate with --calib-text "
                          "or `sutra calibrate`");
    if (options.awq) {
        if (options.awq->loss == AwqLoss::per_linear)
            return make_error(Errc::invalid_argument,
                              "AWQ + GPTQ runs AWQ's module-output loss; drop --awq-loss "
                              "per-linear");
        SUTRA_ASSIGN(AwqLayerStream a, AwqLayerStream::create(ck, config, calib, *options.awq));
        s.awq_.emplace(std::move(a));
    }
    return s;
}

Result<GptqLayer> GptqLayerStream::next(const BlockQuant& bq) {
    const int layer = next_;
    if (layer >= config_->num_hidden_layers)
        return make_error(Errc::internal, "GPTQ: no layer " + std::to_string(layer));
    GptqLayer out;
    out.layer = layer;
    if (awq_) {
        SUTRA_ASSIGN(AwqLayer a, awq_->next(bq));
        out.weights = std::move(a.result.weights);
        out.awq_groups = std::move(a.result.groups);
    } else {
        SUTRA_ASSIGN(std::shared_ptr<const model::BlockWeights> fp, llama_->block_weights(layer));
        out.weights = *fp;
    }
    SUTRA_ASSIGN(out.gptq, gptq_block(*llama_, out.weights, xs_, bq, options_.block));
    ++next_;
    return out;
}

}  // namespace sutra::pipeline
