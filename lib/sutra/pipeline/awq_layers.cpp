#include "sutra/pipeline/awq_layers.hpp"

#include <cmath>

namespace sutra::pipeline {
namespace {

// The four inputs of a block (q = k = v, o, gate = up, down) and the linear naming each.
constexpr std::array<const char*, 4> kInputs = {"self_attn.q_proj", "self_attn.o_proj",
                                                "mlp.gate_proj", "mlp.down_proj"};
// Which of the four inputs each of the seven linears reads.
constexpr std::array<size_t, 7> kInputOf = {0, 0, 0, 1, 2, 2, 3};

Result<const calib::ChannelStats*> find_stats(const calib::CalibrationData& calib, int layer,
                                              const char* linear) {
    const auto it = calib.linears.find(calib::linear_key(layer, linear));
    if (it == calib.linears.end())
        return make_error(Errc::bad_format, "calibration statistics lack the input of " +
                                                calib::linear_key(layer, linear) +
                                                "; recalibrate this model");
    return &it->second;
}

}  // namespace

Result<AwqLayerStream> AwqLayerStream::create(const io::Checkpoint& ck,
                                              const model::LlamaConfig& config,
                                              const calib::CalibrationData& calib,
                                              const AwqOptions& options) {
    AwqLayerStream s;
    s.config_ = &config;
    s.calib_ = &calib;
    s.options_ = options;
    s.weights_ = std::make_unique<model::CheckpointWeights>(ck);
    SUTRA_ASSIGN(model::Llama llama, model::Llama::create(config, *s.weights_));
    s.llama_ = std::make_unique<model::Llama>(std::move(llama));
    // The per-linear loss needs no activations (an imatrix has none); the module-output loss
    // runs the full-precision model over the calibration windows.
    s.per_linear_ = options.loss == AwqLoss::per_linear;
    if (!s.per_linear_) {
        // Only the windows the losses use are carried through the model.
        const auto wins = calib::windows_of(calib);
        std::vector<int64_t> lengths;
        for (auto win : wins)
            lengths.push_back(static_cast<int64_t>(win.size()));
        for (size_t k : awq_loss_windows(lengths, options.loss_tokens)) {
            model::Activations x;
            SUTRA_TRY(s.llama_->embed(wins[k], 0, x));
            s.xs_.push_back(std::move(x));
        }
        if (s.xs_.empty())
            return make_error(Errc::invalid_argument,
                              "the calibration data holds no windows (an imatrix has none: its "
                              "AWQ runs the per-linear loss)");
    }
    return s;
}

Status AwqLayerStream::skip() {
    const int layer = next_;
    if (layer >= config_->num_hidden_layers)
        return make_error(Errc::internal, "AWQ: no layer " + std::to_string(layer));
    if (!per_linear_) {
        SUTRA_ASSIGN(std::shared_ptr<const model::BlockWeights> fp, llama_->block_weights(layer));
        advance_block(*llama_, *fp, xs_, options_.threads);
    }
    ++next_;
    return {};
}

Result<AwqLayer> AwqLayerStream::next(const BlockQuant& bq) {
    const int layer = next_;
    if (layer >= config_->num_hidden_layers)
        return make_error(Errc::internal, "AWQ: no layer " + std::to_string(layer));
    SUTRA_ASSIGN(std::shared_ptr<const model::BlockWeights> fp, llama_->block_weights(layer));

    // The salience statistic: mean |x|; sqrt(mean x^2) (the RMS) where only mean x^2 exists.
    std::array<std::vector<float>, 4> x_mean, x_sq;
    for (size_t k = 0; k < kInputs.size(); ++k) {
        SUTRA_ASSIGN(const calib::ChannelStats* st, find_stats(*calib_, layer, kInputs[k]));
        if (!st->mean_abs.empty()) {
            x_mean[k] = st->mean_abs;
        } else {
            x_mean[k].resize(st->mean_sq.size());
            for (size_t c = 0; c < st->mean_sq.size(); ++c)
                x_mean[k][c] = std::sqrt(st->mean_sq[c]);
        }
        x_sq[k] = st->mean_sq;
    }
    AwqLayer out;
    out.layer = layer;
    // The module-output search also moves the activations through the full-precision block
    // (the next block's input), in the same pass.
    SUTRA_ASSIGN(out.result, per_linear_
                                 ? awq_block_per_linear(*config_, *fp, x_mean, x_sq, bq, options_)
                                 : awq_block_advance(*llama_, *fp, xs_, x_mean, bq, options_));
    for (size_t i = 0; i < 7; ++i) {
        std::vector<float> imp = x_sq[kInputOf[i]];
        const std::vector<float>& s = out.result.input_scales[i];
        if (!s.empty() && s.size() == imp.size())
            for (size_t c = 0; c < imp.size(); ++c)
                imp[c] =
                    static_cast<float>(static_cast<double>(imp[c]) /
                                       (static_cast<double>(s[c]) * static_cast<double>(s[c])));
        out.importance[i] = std::move(imp);
    }
    ++next_;
    return out;
}

}  // namespace sutra::pipeline
