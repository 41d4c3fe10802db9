#include "sutra/model/rwkv/rwkv_model.hpp"

#include <algorithm>

#include "sutra/base/checksum.hpp"
#include "sutra/model/blas.hpp"
#include "sutra/model/embedding.hpp"
#include "sutra/model/rwkv/rwkv_block.hpp"
#include "sutra/model/rwkv/rwkv_ops.hpp"

namespace sutra::model::rwkv {
namespace {

constexpr int64_t kMaxRows = int64_t{1} << 24;  // tokens per call

// A window's identity for RWKV-7's block-0 values: its rows and the bits of its stream.
uint64_t stream_key(const Activations& x) {
    Hasher h;
    const auto rows = static_cast<uint64_t>(x.rows);
    h.update({reinterpret_cast<const uint8_t*>(&rows), sizeof rows});
    h.update({reinterpret_cast<const uint8_t*>(x.data.data()), x.data.size() * sizeof(float)});
    return h.digest();
}

}  // namespace

RwkvModel::RwkvModel(const RwkvConfig& cfg, const WeightSource& weights,
                     const ModelOptions& options)
    : cfg_(cfg), names_(cfg.naming), weights_(&weights), options_(options) {
    info_.family = "rwkv";
    info_.variant = cfg.variant();
    info_.hidden_size = cfg.hidden;
    info_.num_layers = cfg.layers;
    info_.vocab_size = cfg.vocab;
    info_.bos_id = -1;
    info_.eos_ids = cfg.eos_ids;
    kept_blocks_.resize(static_cast<size_t>(cfg.layers));
}

Result<std::unique_ptr<RwkvModel>> RwkvModel::create(const RwkvConfig& cfg,
                                                     const WeightSource& weights,
                                                     const ModelOptions& options) {
    SUTRA_TRY(check_tensors(cfg, Names(cfg.naming), weights));
    return std::unique_ptr<RwkvModel>(new RwkvModel(cfg, weights, options));
}

std::string RwkvModel::linear_tensor(int layer, std::string_view linear) const {
    if (layer == -1) {
        if (linear != "head") return {};
        return names_.global(cfg_.tied_head ? "emb.weight" : "head.weight");
    }
    if (layer < 0 || layer >= cfg_.layers) return {};
    for (const LinearSpec& s : rwkv::block_linears(cfg_, layer))
        if (names_.in_block(s.name) == linear) return names_.block(layer, s.tensor);
    return {};
}

std::unique_ptr<SequenceState> RwkvModel::new_state() const {
    return std::make_unique<RwkvState>(cfg_);
}

Status RwkvModel::check_stream(const Activations& x, const char* what) const {
    if (x.cols != cfg_.hidden || x.rows <= 0 || x.rows > kMaxRows ||
        x.data.size() != static_cast<size_t>(x.rows * x.cols)) {
        return make_error(Errc::invalid_argument, std::string(what) +
                                                      ": activations are not [tokens, " +
                                                      std::to_string(cfg_.hidden) + "] with 1 to " +
                                                      std::to_string(kMaxRows) + " tokens");
    }
    return {};
}

Status RwkvModel::check_state(const RwkvState& s) const {
    const LayerState fresh = initial_layer_state(cfg_);
    bool ok = s.layers.size() == static_cast<size_t>(cfg_.layers);
    for (size_t l = 0; ok && l < s.layers.size(); ++l) {
        const LayerState& ls = s.layers[l];
        ok = ls.att_shift.size() == fresh.att_shift.size() &&
             ls.ffn_shift.size() == fresh.ffn_shift.size() && ls.aa.size() == fresh.aa.size() &&
             ls.bb.size() == fresh.bb.size() && ls.pp.size() == fresh.pp.size() &&
             ls.wkv.size() == fresh.wkv.size();
    }
    if (!ok) {
        return make_error(Errc::invalid_argument,
                          "run_block: the state belongs to an RWKV model of other sizes");
    }
    return {};
}

Status RwkvModel::embed(std::span<const int32_t> tokens, int64_t first_position, Activations& x) {
    const int64_t C = cfg_.hidden;
    SUTRA_TRY(check_tokens(tokens, first_position, cfg_.vocab, kMaxRows));
    std::shared_ptr<const std::pair<Vec, Vec>> ln0 = kept_ln0_;
    if (!ln0) {
        SUTRA_ASSIGN(Vec w, load_checked(*weights_, names_.block(0, "ln0.weight"), {dims(C)}));
        SUTRA_ASSIGN(Vec b, load_checked(*weights_, names_.block(0, "ln0.bias"), {dims(C)}));
        ln0 = std::make_shared<const std::pair<Vec, Vec>>(std::move(w), std::move(b));
        if (options_.keep_weights) kept_ln0_ = ln0;
    }
    const std::string name = names_.global("emb.weight");
    if (options_.keep_weights && !kept_embedding_) {
        SUTRA_ASSIGN(Matrix table, load_matrix_checked(*weights_, name, {dims(cfg_.vocab, C)}));
        kept_embedding_ = std::make_shared<const Matrix>(std::move(table));
    }
    const Vec* table =
        kept_embedding_ && !kept_embedding_->packed ? kept_embedding_.get() : nullptr;
    SUTRA_ASSIGN(Vec rows, gather_rows(*weights_, name, tokens, C, table));
    x.rows = static_cast<int64_t>(tokens.size());
    x.cols = C;
    x.first_position = first_position;
    x.data.resize(rows.size());
    layer_norm(rows.data(), ln0->first, ln0->second, x.rows, C, cfg_.ln_eps, x.data.data());
    return {};
}

Result<std::shared_ptr<const BlockWeights>> RwkvModel::block_weights(int layer) {
    if (layer < 0 || layer >= cfg_.layers) {
        return make_error(Errc::invalid_argument, "run_block: layer " + std::to_string(layer) +
                                                      " is outside [0, " +
                                                      std::to_string(cfg_.layers) + ")");
    }
    auto& kept = kept_blocks_[static_cast<size_t>(layer)];
    if (kept) return kept;
    SUTRA_ASSIGN(std::shared_ptr<const BlockWeights> w,
                 rwkv::load_block(cfg_, names_, *weights_, layer));
    if (options_.keep_weights) kept = w;
    return w;
}

Status RwkvModel::run_block(int layer, std::span<Activations> xs) {
    head_between_.reset();
    SUTRA_ASSIGN(std::shared_ptr<const BlockWeights> w, block_weights(layer));
    return run_windows(*w, xs);
}

Result<std::shared_ptr<const Vec>> RwkvModel::window_values(const Activations& x, int layer) const {
    const uint64_t key = stream_key(x);
    for (const WindowValues& e : window_values_)
        if (e.key == key) return e.v;
    return make_error(Errc::invalid_argument,
                      "run_block: RWKV-7 block " + std::to_string(layer) +
                          " needs the values block 0 computed for the same window, and this "
                          "window is not the output of an earlier block of this pass; run blocks "
                          "0.." +
                          std::to_string(layer - 1) + " on it first");
}

Status RwkvModel::run_windows(const BlockWeights& w, std::span<Activations> xs) const {
    const int layer = w.layer;
    for (const Activations& x : xs) {
        SUTRA_TRY(check_stream(x, "run_block"));
        if (x.first_position != 0) {
            return make_error(Errc::invalid_argument, "run_block: a window starts at position " +
                                                          std::to_string(x.first_position) +
                                                          ", not 0");
        }
    }
    const bool v7 = cfg_.version == Version::v7;
    std::vector<std::shared_ptr<const Vec>> values(xs.size());
    if (v7 && layer > 0) {
        // Every window's block-0 values, before anything changes.
        for (size_t i = 0; i < xs.size(); ++i) {
            SUTRA_ASSIGN(values[i], window_values(xs[i], layer));
        }
    }
    if (v7 && layer == 0 && last_window_layer_ != 0) window_values_.clear();
    last_window_layer_ = layer;
    const SingleThreadedBlas single_threaded;
    const Linears lin(observer_, layer, names_);
    for (size_t i = 0; i < xs.size(); ++i) {
        LayerState s = initial_layer_state(cfg_);
        Vec v_first = values[i] ? *values[i] : Vec{};
        run_layer(cfg_, w, xs[i], s, lin, v_first);
        if (v7 && layer + 1 < cfg_.layers) {
            if (!values[i]) values[i] = std::make_shared<const Vec>(std::move(v_first));
            const uint64_t key = stream_key(xs[i]);
            auto it = std::find_if(window_values_.begin(), window_values_.end(),
                                   [&](const WindowValues& e) { return e.key == key; });
            if (it == window_values_.end()) {
                window_values_.push_back({key, values[i]});
            } else {
                it->v = values[i];
            }
        }
    }
    return {};
}

Status RwkvModel::run_block(int layer, Activations& x, SequenceState& state) {
    head_between_.reset();
    auto* st = dynamic_cast<RwkvState*>(&state);
    if (!st) {
        return make_error(Errc::invalid_argument, "run_block: the state is not an RWKV model's");
    }
    SUTRA_TRY(check_state(*st));
    SUTRA_TRY(check_stream(x, "run_block"));
    if (layer < 0 || layer >= cfg_.layers) {
        return make_error(Errc::invalid_argument, "run_block: layer " + std::to_string(layer) +
                                                      " is outside [0, " +
                                                      std::to_string(cfg_.layers) + ")");
    }
    LayerState& ls = st->layers[static_cast<size_t>(layer)];
    if (x.first_position != ls.seen) {
        return make_error(Errc::invalid_argument, "run_block: activations start at position " +
                                                      std::to_string(x.first_position) +
                                                      " but layer " + std::to_string(layer) +
                                                      " of the state has seen " +
                                                      std::to_string(ls.seen) + " tokens");
    }
    const int64_t C = cfg_.hidden;
    const bool v7 = cfg_.version == Version::v7;
    Vec v_first;
    if (v7 && layer > 0) {
        const int64_t stored = static_cast<int64_t>(st->v_first.size()) / C;
        const int64_t from = x.first_position - st->v_first_begin;
        if (from < 0 || from + x.rows > stored) {
            return make_error(Errc::invalid_argument,
                              "run_block: RWKV-7 block " + std::to_string(layer) +
                                  " needs block 0's values of positions " +
                                  std::to_string(x.first_position) + ".." +
                                  std::to_string(x.first_position + x.rows - 1) +
                                  "; run block 0 on these tokens first");
        }
        v_first.assign(st->v_first.begin() + from * C, st->v_first.begin() + (from + x.rows) * C);
    }
    SUTRA_ASSIGN(std::shared_ptr<const BlockWeights> w, block_weights(layer));
    const SingleThreadedBlas single_threaded;
    const Linears lin(observer_, layer, names_);
    run_layer(cfg_, *w, x, ls, lin, v_first);
    if (v7 && layer == 0 && cfg_.layers > 1) {
        // Keep the values some later block has still to see: positions from the least any of
        // them has seen (block 0 is never behind them) to the end of this call.
        int64_t keep_from = ls.seen;
        for (size_t l = 1; l < st->layers.size(); ++l)
            keep_from = std::min(keep_from, st->layers[l].seen);
        if (st->v_first.empty() ||
            st->v_first_begin + static_cast<int64_t>(st->v_first.size()) / C != x.first_position) {
            st->v_first.clear();
            st->v_first_begin = x.first_position;
        }
        const int64_t stored = static_cast<int64_t>(st->v_first.size()) / C;
        const int64_t drop = std::clamp<int64_t>(keep_from - st->v_first_begin, 0, stored);
        st->v_first.erase(st->v_first.begin(), st->v_first.begin() + drop * C);
        st->v_first_begin += drop;
        st->v_first.insert(st->v_first.end(), v_first.begin(), v_first.end());
    }
    return {};
}

Result<std::shared_ptr<const HeadWeights>> RwkvModel::head_weights() {
    if (kept_head_) return kept_head_;
    const int64_t C = cfg_.hidden;
    auto w = std::make_shared<HeadWeights>();
    SUTRA_ASSIGN(w->ln_w, load_checked(*weights_, names_.global("ln_out.weight"), {dims(C)}));
    SUTRA_ASSIGN(w->ln_b, load_checked(*weights_, names_.global("ln_out.bias"), {dims(C)}));
    if (cfg_.tied_head && kept_embedding_) {
        w->head = kept_embedding_;
    } else {
        const std::string name = names_.global(cfg_.tied_head ? "emb.weight" : "head.weight");
        SUTRA_ASSIGN(Matrix m, load_matrix_checked(*weights_, name, {dims(cfg_.vocab, C)}));
        w->head = std::make_shared<const Matrix>(std::move(m));
        if (cfg_.tied_head && options_.keep_weights) kept_embedding_ = w->head;
    }
    std::shared_ptr<const HeadWeights> out = std::move(w);
    if (options_.keep_weights) kept_head_ = out;
    return out;
}

Status RwkvModel::run_head(const HeadWeights& w, const Activations& x,
                           std::vector<float>& logits) const {
    SUTRA_TRY(check_stream(x, "head"));
    const SingleThreadedBlas single_threaded;
    const int64_t C = cfg_.hidden;
    Vec h(x.data.size());
    layer_norm(x.data.data(), w.ln_w, w.ln_b, x.rows, C, cfg_.ln_out_eps, h.data());
    if (observer_) observer_(-1, "head", h.data(), x.rows, C);
    logits.resize(static_cast<size_t>(x.rows * cfg_.vocab));
    matmul_wt(h.data(), x.rows, C, *w.head, cfg_.vocab, logits.data());
    return {};
}

Status RwkvModel::head(const Activations& x, std::vector<float>& logits) {
    SUTRA_ASSIGN(std::shared_ptr<const HeadWeights> w, head_weights());
    return run_head(*w, x, logits);
}

Status RwkvModel::head_each(std::span<const Activations> xs, const LogitsSink& each) {
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

Result<BlockTensors> RwkvModel::load_block(int layer) {
    return load_block_tensors(cfg_, names_, *weights_, layer);
}

std::string RwkvModel::keep_reason(std::string_view tensor) const {
    for (int l = 0; l < cfg_.layers; ++l) {
        const std::string att = names_.block(l, "att.");  // the checkpoint's naming
        if (tensor.substr(0, att.size()) != att) continue;
        for (const BlockLinear& b : block_linears(l))
            if (tensor == block_tensor(l, b.name + ".weight")) return {};
        if (tensor.find("ln_x") != std::string_view::npos) return {};  // 1-D anyway
        return "RWKV time-mix parameter";
    }
    return {};
}

std::string RwkvModel::block_tensor(int layer, std::string_view name) const {
    return block_tensor_name(cfg_, names_, layer, name);
}

std::vector<BlockLinear> RwkvModel::block_linears(int layer) const {
    return linears_of_block(cfg_, names_, layer);
}

std::vector<ScaleGroup> RwkvModel::scale_groups(int layer) const {
    return scale_groups_of_block(cfg_, names_, layer);
}

Status RwkvModel::run_block_with(const BlockTensors& w, std::span<Activations> xs) const {
    SUTRA_ASSIGN(std::shared_ptr<const BlockWeights> b, block_weights_of(cfg_, names_, w));
    return run_windows(*b, xs);
}

Status RwkvModel::run_module(const BlockTensors& w, std::string_view module, const Activations& x,
                             std::vector<float>& out) const {
    if (module != "att" && module != "ffn") {
        return make_error(Errc::invalid_argument,
                          "run_module: an RWKV block has the modules "
                          "\"att\" and \"ffn\", not \"" +
                              std::string(module) + "\"");
    }
    SUTRA_TRY(check_stream(x, "run_module"));
    SUTRA_ASSIGN(std::shared_ptr<const BlockWeights> b, block_weights_of(cfg_, names_, w));
    Vec v_first;
    if (cfg_.version == Version::v7 && b->layer > 0) {
        SUTRA_ASSIGN(std::shared_ptr<const Vec> v, window_values(x, b->layer));
        v_first = *v;
    }
    const SingleThreadedBlas single_threaded;
    const LinearObserver none;
    const Linears lin(none, b->layer, names_);
    LayerState s = initial_layer_state(cfg_);
    out.resize(x.data.size());
    time_mix_out(cfg_, *b, x.data.data(), x.rows, s, lin, v_first, out.data());
    if (module == "att") return {};
    Vec mid = x.data;
    for (size_t i = 0; i < mid.size(); ++i)
        mid[i] += out[i];
    channel_mix_out(cfg_, *b, mid.data(), x.rows, s, lin, out.data());
    return {};
}

void RwkvModel::release_weights() {
    for (auto& b : kept_blocks_)
        b.reset();
    kept_head_.reset();
    head_between_.reset();
    kept_embedding_.reset();
    kept_ln0_.reset();
}

}  // namespace sutra::model::rwkv
