#include "sutra/pipeline/gptq_layers.hpp"

#include <algorithm>

#include "sutra/quant/awq.hpp"

namespace sutra::pipeline {

struct GptqTrialState {
    BlockHessians hessians;
    quant::GptqOptions gptq;
    unsigned threads = 1;
    // The last factor made, for the linears of a group that share an input and a trial (q, k,
    // v; gate, up): its input and scales.
    size_t factor_input = 4;
    std::vector<float> factor_scales;
    std::optional<quant::GptqFactor> factor;
};

namespace {

// Which of the block's four inputs each of the seven linears reads.
constexpr std::array<size_t, 7> kInputOf = {0, 0, 0, 1, 2, 2, 3};

// out = G(W·diag(s))·diag(1/s), G = GPTQ with the Hessian of the scaled input; false (RTN is
// used) when the block has no Hessian for this input or GPTQ refuses it.
bool gptq_trial_round(GptqTrialState& st, int linear, const std::vector<float>& w,
                      const quant::QuantLayout& l, std::span<const float> s,
                      std::vector<float>& out) {
    const size_t input = kInputOf[static_cast<size_t>(linear)];
    const auto& h = st.hessians[input];
    if (!h) return false;
    if (!st.factor || st.factor_input != input ||
        !std::equal(s.begin(), s.end(), st.factor_scales.begin(), st.factor_scales.end())) {
        st.factor.reset();
        auto f = quant::gptq_factor(s.empty() ? *h : h->divided_by(s), st.gptq, "AWQ trial");
        if (!f.ok()) return false;
        st.factor = std::move(*f);
        st.factor_input = input;
        st.factor_scales.assign(s.begin(), s.end());
    }
    const quant::GptqFactor* f = &*st.factor;
    std::vector<float> ws = w;
    if (!s.empty()) quant::scale_columns(ws, l.cols, s);
    auto r = quant::gptq_quantize(ws, l, *f, "AWQ trial", st.threads);
    if (!r.ok()) return false;
    out = quant::gptq_dequantize(*r, l);
    if (!s.empty()) quant::scale_columns(out, l.cols, s, true);
    return true;
}

}  // namespace

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
        AwqOptions ao = *options.awq;
        if (options.gptq_in_search) {
            s.trial_ = std::make_shared<GptqTrialState>();
            s.trial_->gptq = options.block.gptq;
            s.trial_->threads = options.block.threads;
            ao.trial_round = [st = s.trial_](int linear, const std::vector<float>& w,
                                             const quant::QuantLayout& l, std::span<const float> sc,
                                             std::vector<float>& out) {
                return gptq_trial_round(*st, linear, w, l, sc, out);
            };
        }
        SUTRA_ASSIGN(AwqLayerStream a, AwqLayerStream::create(ck, config, calib, ao));
        s.awq_.emplace(std::move(a));
    }
    return s;
}

Status GptqLayerStream::skip() {
    if (awq_ || options_.block.sequential)
        return make_error(Errc::internal, "GPTQ: only full-precision inputs pass a layer by");
    const int layer = next_;
    if (layer >= config_->num_hidden_layers)
        return make_error(Errc::internal, "GPTQ: no layer " + std::to_string(layer));
    SUTRA_ASSIGN(std::shared_ptr<const model::BlockWeights> fp, llama_->block_weights(layer));
    advance_block(*llama_, *fp, xs_, options_.block.threads);
    ++next_;
    return {};
}

Result<GptqLayer> GptqLayerStream::next(const BlockQuant& bq) {
    const int layer = next_;
    if (layer >= config_->num_hidden_layers)
        return make_error(Errc::internal, "GPTQ: no layer " + std::to_string(layer));
    GptqLayer out;
    out.layer = layer;
    if (awq_) {
        if (trial_) {
            SUTRA_ASSIGN(std::shared_ptr<const model::BlockWeights> fp,
                         llama_->block_weights(layer));
            SUTRA_ASSIGN(trial_->hessians,
                         block_hessians(*llama_, *fp, xs_, bq, options_.block.threads));
            trial_->factor.reset();
        }
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
