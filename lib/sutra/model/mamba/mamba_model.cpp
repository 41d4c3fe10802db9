#include "sutra/model/mamba/mamba_model.hpp"

#include <algorithm>

#include "sutra/model/blas.hpp"
#include "sutra/model/embedding.hpp"
#include "sutra/model/mamba/mamba_mixer.hpp"

namespace sutra::model::mamba {
namespace {

constexpr int64_t kMaxRows = int64_t{1} << 24;  // tokens per call

const char* const kLinears[] = {"mixer.in_proj", "mixer.x_proj", "mixer.dt_proj", "mixer.out_proj"};

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

MambaModel::MambaModel(const MambaConfig& cfg, const WeightSource& weights,
                       const ModelOptions& options)
    : cfg_(cfg), weights_(&weights), options_(options) {
    info_.family = "mamba";
    info_.variant = "1";
    info_.hidden_size = cfg.hidden;
    info_.num_layers = cfg.layers;
    info_.vocab_size = cfg.vocab;
    info_.bos_id = cfg.bos_id;
    info_.eos_ids = cfg.eos_ids;
    kept_blocks_.resize(static_cast<size_t>(cfg.layers));
}

Result<std::unique_ptr<MambaModel>> MambaModel::create(const MambaConfig& cfg,
                                                       const WeightSource& weights,
                                                       const ModelOptions& options) {
    if (cfg.hidden <= 0 || cfg.inner <= 0 || cfg.state <= 0 || cfg.conv <= 0 || cfg.dt_rank <= 0 ||
        cfg.layers <= 0 || cfg.vocab <= 0) {
        return make_error(Errc::invalid_argument,
                          "Mamba config is incomplete (use detect_config): sizes must be "
                          "positive and there must be at least one block");
    }
    SUTRA_TRY(check_tensors(cfg, weights));
    return std::unique_ptr<MambaModel>(new MambaModel(cfg, weights, options));
}

std::string MambaModel::linear_tensor(int layer, std::string_view linear) const {
    if (layer == -1) return linear == "lm_head" ? cfg_.head_tensor() : std::string();
    if (layer < 0 || layer >= cfg_.layers) return {};
    for (const char* l : kLinears)
        if (linear == l) return MambaConfig::layer_tensor(layer, std::string(linear) + ".weight");
    return {};
}

std::unique_ptr<SequenceState> MambaModel::new_state() const {
    return std::make_unique<MambaState>(cfg_);
}

Status MambaModel::check_stream(const Activations& x, const char* what) const {
    if (x.cols != cfg_.hidden || x.rows <= 0 || x.rows > kMaxRows ||
        x.data.size() != static_cast<size_t>(x.rows * x.cols)) {
        return make_error(Errc::invalid_argument, std::string(what) +
                                                      ": activations are not [tokens, " +
                                                      std::to_string(cfg_.hidden) + "] with 1 to " +
                                                      std::to_string(kMaxRows) + " tokens");
    }
    return {};
}

Status MambaModel::embed(std::span<const int32_t> tokens, int64_t first_position, Activations& x) {
    const int64_t H = cfg_.hidden;
    SUTRA_TRY(check_tokens(tokens, first_position, cfg_.vocab, kMaxRows));
    const std::string name = cfg_.embedding_tensor();
    if (options_.keep_weights && !kept_embedding_) {
        SUTRA_ASSIGN(Matrix table, load_matrix_checked(*weights_, name, dims(cfg_.vocab, H)));
        kept_embedding_ = std::make_shared<const Matrix>(std::move(table));
    }
    const std::vector<float>* table =
        kept_embedding_ && !kept_embedding_->packed ? kept_embedding_.get() : nullptr;
    SUTRA_ASSIGN(x.data, gather_rows(*weights_, name, tokens, H, table));
    x.rows = static_cast<int64_t>(tokens.size());
    x.cols = H;
    x.first_position = first_position;
    return {};
}

Result<std::shared_ptr<const BlockTensors>> MambaModel::block_weights(int layer) {
    if (layer < 0 || layer >= cfg_.layers) {
        return make_error(Errc::invalid_argument, "layer " + std::to_string(layer) +
                                                      " is outside [0, " +
                                                      std::to_string(cfg_.layers) + ")");
    }
    auto& kept = kept_blocks_[static_cast<size_t>(layer)];
    if (kept) return kept;
    SUTRA_ASSIGN(BlockTensors b, load_block_tensors(cfg_, *weights_, layer));
    auto out = std::make_shared<const BlockTensors>(std::move(b));
    if (options_.keep_weights) kept = out;
    return out;
}

Status MambaModel::run_windows(const BlockTensors& w, std::span<Activations> xs) const {
    SUTRA_TRY(check_block_tensors(cfg_, w));
    for (const Activations& x : xs) {
        SUTRA_TRY(check_stream(x, "run_block"));
        if (x.first_position != 0) {
            return make_error(Errc::invalid_argument,
                              "run_block: a window starts at position " +
                                  std::to_string(x.first_position) +
                                  ", not 0 (whole windows start from the initial state; pass a "
                                  "state to continue a sequence)");
        }
    }
    for (Activations& x : xs) {
        LayerState s = initial_layer_state(cfg_);
        run_mixer_block(cfg_, w, x, s, observer_);
    }
    return {};
}

Status MambaModel::run_block(int layer, std::span<Activations> xs) {
    head_between_.reset();
    SUTRA_ASSIGN(std::shared_ptr<const BlockTensors> w, block_weights(layer));
    return run_windows(*w, xs);
}

Status MambaModel::run_block(int layer, Activations& x, SequenceState& state) {
    head_between_.reset();
    auto* s = dynamic_cast<MambaState*>(&state);
    if (!s)
        return make_error(Errc::invalid_argument, "run_block: the state is not a Mamba model's");
    if (layer < 0 || layer >= cfg_.layers) {
        return make_error(Errc::invalid_argument, "layer " + std::to_string(layer) +
                                                      " is outside [0, " +
                                                      std::to_string(cfg_.layers) + ")");
    }
    const LayerState fresh = initial_layer_state(cfg_);
    bool fits = s->layers.size() == static_cast<size_t>(cfg_.layers);
    for (size_t l = 0; fits && l < s->layers.size(); ++l)
        fits = s->layers[l].conv.size() == fresh.conv.size() &&
               s->layers[l].ssm.size() == fresh.ssm.size();
    if (!fits) {
        return make_error(Errc::invalid_argument,
                          "run_block: the state belongs to a Mamba model of other sizes");
    }
    SUTRA_TRY(check_stream(x, "run_block"));
    LayerState& ls = s->layers[static_cast<size_t>(layer)];
    if (x.first_position != ls.seen) {
        return make_error(Errc::invalid_argument, "run_block: activations start at position " +
                                                      std::to_string(x.first_position) +
                                                      " but layer " + std::to_string(layer) +
                                                      " of the state has seen " +
                                                      std::to_string(ls.seen) + " tokens");
    }
    SUTRA_ASSIGN(std::shared_ptr<const BlockTensors> w, block_weights(layer));
    SUTRA_TRY(check_block_tensors(cfg_, *w));
    run_mixer_block(cfg_, *w, x, ls, observer_);
    return {};
}

Result<std::shared_ptr<const HeadWeights>> MambaModel::head_weights() {
    if (kept_head_) return kept_head_;
    const int64_t H = cfg_.hidden;
    auto w = std::make_shared<HeadWeights>();
    SUTRA_ASSIGN(w->norm,
                 load_checked(*weights_, "backbone.norm_f.weight", {static_cast<uint64_t>(H)}));
    if (cfg_.tied && kept_embedding_) {
        w->lm_head = kept_embedding_;
    } else {
        SUTRA_ASSIGN(Matrix m,
                     load_matrix_checked(*weights_, cfg_.head_tensor(), dims(cfg_.vocab, H)));
        w->lm_head = std::make_shared<const Matrix>(std::move(m));
        if (cfg_.tied && options_.keep_weights) kept_embedding_ = w->lm_head;
    }
    std::shared_ptr<const HeadWeights> out = std::move(w);
    if (options_.keep_weights) kept_head_ = out;
    return out;
}

Status MambaModel::run_head(const HeadWeights& w, const Activations& x,
                            std::vector<float>& logits) const {
    const SingleThreadedBlas single_threaded;
    SUTRA_TRY(check_stream(x, "head"));
    const int64_t H = cfg_.hidden, V = cfg_.vocab;
    std::vector<float> h(x.data.size());
    rms_norm(cfg_, x.data.data(), w.norm.data(), x.rows, h.data());
    if (observer_) observer_(-1, "lm_head", h.data(), x.rows, H);
    logits.resize(static_cast<size_t>(x.rows * V));
    matmul_wt(h.data(), x.rows, H, *w.lm_head, V, logits.data());
    return {};
}

Status MambaModel::head(const Activations& x, std::vector<float>& logits) {
    SUTRA_ASSIGN(std::shared_ptr<const HeadWeights> w, head_weights());
    return run_head(*w, x, logits);
}

Status MambaModel::head_each(std::span<const Activations> xs, const LogitsSink& each) {
    if (!head_between_) {
        SUTRA_ASSIGN(head_between_, head_weights());
    }
    std::vector<float> logits;
    for (size_t i = 0; i < xs.size(); ++i) {
        SUTRA_TRY(run_head(*head_between_, xs[i], logits));
        SUTRA_TRY(each(i, logits));
    }
    return {};
}

void MambaModel::release_weights() {
    for (auto& b : kept_blocks_)
        b.reset();
    kept_head_.reset();
    head_between_.reset();
    kept_embedding_.reset();
}

Result<BlockTensors> MambaModel::load_block(int layer) {
    return load_block_tensors(cfg_, *weights_, layer);
}

std::string MambaModel::keep_reason(std::string_view tensor) const {
    if (ends_with(tensor, ".mixer.A_log"))
        return "Mamba SSM parameter (A_log: the state's decay rates)";
    return {};
}

std::string MambaModel::block_tensor(int layer, std::string_view name) const {
    if (layer < 0 || layer >= cfg_.layers) return {};
    return MambaConfig::layer_tensor(layer, name);
}

std::vector<BlockLinear> MambaModel::block_linears(int layer) const {
    if (layer < 0 || layer >= cfg_.layers) return {};
    const int64_t H = cfg_.hidden, I = cfg_.inner;
    return {{"mixer.in_proj", 2 * I, H, true},
            {"mixer.x_proj", cfg_.x_proj_out(), I, true},
            {"mixer.dt_proj", I, cfg_.dt_rank, true},
            {"mixer.out_proj", H, I, true}};
}

std::vector<ScaleGroup> MambaModel::scale_groups(int layer) const {
    if (layer < 0 || layer >= cfg_.layers) return {};
    ScaleGroup in;
    in.name = "mixer.in_proj";
    in.linears = {"mixer.in_proj"};
    in.fold = ScaleGroup::Fold::vector;
    in.fold_tensors = {"norm.weight"};
    ScaleGroup dt;
    dt.name = "mixer.dt_proj";
    dt.linears = {"mixer.dt_proj"};
    dt.fold = ScaleGroup::Fold::rows;
    dt.fold_tensors = {"mixer.x_proj.weight"};
    dt.fold_row_offset = 0;
    return {in, dt};
}

Status MambaModel::run_block_with(const BlockTensors& w, std::span<Activations> xs) const {
    return run_windows(w, xs);
}

}  // namespace sutra::model::mamba
