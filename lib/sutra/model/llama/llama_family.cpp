#include "sutra/model/llama/llama_family.hpp"

#include <optional>
#include <string>

namespace sutra::model::llama {
namespace {

class LlamaState final : public SequenceState {
  public:
    int64_t position() const override { return cache.lengths.empty() ? 0 : cache.lengths.back(); }
    KvCache cache;
};

using Field = Matrix BlockWeights::*;
const std::pair<const char*, Field> kFields[] = {
    {"input_layernorm.weight", &BlockWeights::input_norm},
    {"self_attn.q_proj.weight", &BlockWeights::q},
    {"self_attn.k_proj.weight", &BlockWeights::k},
    {"self_attn.v_proj.weight", &BlockWeights::v},
    {"self_attn.o_proj.weight", &BlockWeights::o},
    {"self_attn.q_proj.bias", &BlockWeights::q_bias},
    {"self_attn.k_proj.bias", &BlockWeights::k_bias},
    {"self_attn.v_proj.bias", &BlockWeights::v_bias},
    {"self_attn.o_proj.bias", &BlockWeights::o_bias},
    {"self_attn.q_norm.weight", &BlockWeights::q_norm},
    {"self_attn.k_norm.weight", &BlockWeights::k_norm},
    {"post_attention_layernorm.weight", &BlockWeights::post_norm},
    {"mlp.gate_proj.weight", &BlockWeights::gate},
    {"mlp.up_proj.weight", &BlockWeights::up},
    {"mlp.down_proj.weight", &BlockWeights::down},
};

BlockWeights to_weights(const BlockTensors& t) {
    BlockWeights w;
    w.layer = t.layer;
    for (const auto& [name, member] : kFields)
        if (const std::vector<float>* v = t.find(name)) w.*member = *v;
    return w;
}

class LlamaModel final : public Model {
  public:
    explicit LlamaModel(Llama llama) : owned_(std::move(llama)), llama_(*owned_) { init(); }
    explicit LlamaModel(Llama* llama) : llama_(*llama) { init(); }

    void init() {
        const LlamaConfig& c = llama_.config();
        info_.family = "llama";
        info_.variant = c.model_type;
        info_.hidden_size = c.hidden_size;
        info_.num_layers = c.num_hidden_layers;
        info_.vocab_size = c.vocab_size;
        info_.bos_id = c.bos_token_id >= 0 ? static_cast<int32_t>(c.bos_token_id) : 1;
        for (int64_t e : c.eos_token_ids)
            info_.eos_ids.push_back(static_cast<int32_t>(e));
    }

    const ModelInfo& info() const override { return info_; }
    void set_linear_observer(LinearObserver observer) override {
        observer_ = observer;
        llama_.set_linear_observer(std::move(observer));
    }
    std::string linear_tensor(int layer, std::string_view linear) const override {
        if (layer < 0) {
            if (linear != "lm_head") return {};
            return llama_.config().tie_word_embeddings ? "model.embed_tokens.weight"
                                                       : "lm_head.weight";
        }
        if (layer >= info_.num_layers) return {};
        return Llama::layer_tensor(layer, std::string(linear) + ".weight");
    }
    std::unique_ptr<SequenceState> new_state() const override {
        return std::make_unique<LlamaState>();
    }
    Status embed(std::span<const int32_t> tokens, int64_t first_position, Activations& x) override {
        return llama_.embed(tokens, first_position, x);
    }
    Status run_block(int layer, std::span<Activations> xs) override {
        head_.reset();
        for (const Activations& x : xs)
            if (x.first_position != 0)
                return make_error(Errc::invalid_argument,
                                  "run_block: a window starts at position " +
                                      std::to_string(x.first_position) + ", not 0");
        return llama_.run_block(layer, xs);
    }
    Status run_block(int layer, Activations& x, SequenceState& state) override {
        head_.reset();
        auto* s = dynamic_cast<LlamaState*>(&state);
        if (!s)
            return make_error(Errc::invalid_argument,
                              "run_block: the state is not a Llama model's");
        return llama_.run_block(layer, x, &s->cache);
    }
    Status head(const Activations& x, std::vector<float>& logits) override {
        return llama_.head(x, logits);
    }
    Status head_each(std::span<const Activations> xs, const LogitsSink& each) override {
        if (!head_) {
            SUTRA_ASSIGN(head_, llama_.head_weights());
        }
        std::vector<float> logits;
        for (size_t i = 0; i < xs.size(); ++i) {
            SUTRA_TRY(llama_.run_head(*head_, xs[i], logits));
            SUTRA_TRY(each(i, logits));
        }
        return {};
    }
    // The final RMSNorm only: lm_head's weights are neither loaded nor applied.
    Status observe_head(std::span<const Activations> xs) override {
        if (!observer_) return {};
        const int64_t H = info_.hidden_size;
        SUTRA_ASSIGN(std::vector<float> norm, llama_.weights().load("model.norm.weight"));
        if (static_cast<int64_t>(norm.size()) != H)
            return make_error(Errc::bad_format,
                              "tensor 'model.norm.weight' has " + std::to_string(norm.size()) +
                                  " values, expected hidden_size " + std::to_string(H));
        std::vector<float> h;
        for (const Activations& x : xs) {
            if (x.cols != H || x.data.size() != static_cast<size_t>(x.rows * H))
                return make_error(Errc::invalid_argument,
                                  "head: activations are not [tokens, hidden_size]");
            h.resize(x.data.size());
            llama_.norm(x.data.data(), norm, x.rows, h.data());
            observer_(-1, "lm_head", h.data(), x.rows, x.cols);
        }
        return {};
    }
    void release_weights() override {
        head_.reset();
        llama_.release_weights();
    }

    Llama& llama() { return llama_; }

    // The block view: tensors by their Hugging Face in-block names.
    std::string block_tensor(int layer, std::string_view name) const override {
        return Llama::layer_tensor(layer, name);
    }
    Result<BlockTensors> load_block(int layer) override {
        SUTRA_ASSIGN(std::shared_ptr<const BlockWeights> w, llama_.block_weights(layer));
        BlockTensors t;
        t.layer = layer;
        for (const auto& [name, member] : kFields)
            if (!(w.get()->*member).empty()) t.tensors[name] = w.get()->*member;
        return t;
    }
    std::vector<BlockLinear> block_linears(int layer) const override {
        if (layer < 0 || layer >= info_.num_layers) return {};
        const LlamaConfig& c = llama_.config();
        const int64_t h = c.hidden_size, i = c.intermediate_size;
        return {{"self_attn.q_proj", c.q_width(), h, false},
                {"self_attn.k_proj", c.kv_width(), h, false},
                {"self_attn.v_proj", c.kv_width(), h, true},
                {"self_attn.o_proj", h, c.q_width(), true},
                {"mlp.gate_proj", i, h, true},
                {"mlp.up_proj", i, h, true},
                {"mlp.down_proj", h, i, true}};
    }
    // As llm-awq / AutoAWQ group them (pipeline/awq_block.hpp says why each fold is exact).
    std::vector<ScaleGroup> scale_groups(int layer) const override {
        if (layer < 0 || layer >= info_.num_layers) return {};
        const LlamaConfig& c = llama_.config();
        using F = ScaleGroup::Fold;
        std::vector<ScaleGroup> g;
        g.push_back({"qkv",
                     {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"},
                     F::vector,
                     {"input_layernorm.weight"},
                     0,
                     "self_attn"});
        if (c.kv_width() == c.q_width() && !c.attention_bias)
            g.push_back({"o", {"self_attn.o_proj"}, F::rows, {"self_attn.v_proj.weight"}, 0, ""});
        g.push_back({"gate_up",
                     {"mlp.gate_proj", "mlp.up_proj"},
                     F::vector,
                     {"post_attention_layernorm.weight"},
                     0,
                     "mlp"});
        g.push_back({"down", {"mlp.down_proj"}, F::rows, {"mlp.up_proj.weight"}, 0, ""});
        return g;
    }
    Status run_block_with(const BlockTensors& t, std::span<Activations> xs) const override {
        const BlockWeights w = to_weights(t);
        for (Activations& x : xs)
            SUTRA_TRY(llama_.run_block(w, x, nullptr));
        return {};
    }
    // "self_attn": the attention sub-layer's output on the normalised input; "mlp": the MLP's
    // output on the normalised stream after the attention's residual.
    Status run_module(const BlockTensors& t, std::string_view module, const Activations& x,
                      std::vector<float>& out) const override {
        const BlockWeights w = to_weights(t);
        const int64_t H = info_.hidden_size, T = x.rows;
        std::vector<float> xn(x.data.size()), attn(x.data.size());
        llama_.norm(x.data.data(), w.input_norm, T, xn.data());
        out.assign(x.data.size(), 0.0f);
        if (module == "self_attn") {
            llama_.attention_sublayer(w, xn.data(), T, 0, out.data());
            return {};
        }
        if (module != "mlp")
            return make_error(Errc::invalid_argument,
                              "run_module: no module " + std::string(module));
        llama_.attention_sublayer(w, xn.data(), T, 0, attn.data());
        for (int64_t k = 0; k < T * H; ++k)
            attn[static_cast<size_t>(k)] += x.data[static_cast<size_t>(k)];
        llama_.norm(attn.data(), w.post_norm, T, xn.data());
        llama_.mlp_sublayer(w, xn.data(), T, out.data());
        return {};
    }

  private:
    std::optional<Llama> owned_;
    Llama& llama_;
    ModelInfo info_;
    LinearObserver observer_;                  // also set in llama_, for observe_head
    std::shared_ptr<const HeadWeights> head_;  // between head_each calls
};

}  // namespace

bool claims_config(const nlohmann::json& config) {
    if (!config.is_object()) return false;
    auto it = config.find("model_type");
    if (it == config.end() || !it->is_string()) return false;
    const auto& t = it->get_ref<const std::string&>();
    return t == "llama" || t == "mistral" || t == "qwen2" || t == "qwen3";
}

bool claims_tensors(const WeightSource& weights) {
    return weights.has("model.layers.0.self_attn.q_proj.weight") ||
           weights.has("model.embed_tokens.weight");
}

Result<std::unique_ptr<Model>> open(const nlohmann::json* config, const WeightSource& weights,
                                    const ModelOptions& options) {
    if (!config)
        return make_error(Errc::not_found,
                          "a Llama-family checkpoint needs its config.json; put it beside the "
                          "weights or pass --model-dir with the folder of the original model");
    SUTRA_ASSIGN(LlamaConfig c, parse_llama_config(*config, "config.json"));
    LlamaOptions lo;
    lo.keep_weights = options.keep_weights;
    SUTRA_ASSIGN(Llama l, Llama::create(c, weights, lo));
    return std::unique_ptr<Model>(std::make_unique<LlamaModel>(std::move(l)));
}

std::unique_ptr<Model> view(Llama& llama) {
    return std::make_unique<LlamaModel>(&llama);
}

Llama* as_llama(Model& model) {
    auto* m = dynamic_cast<LlamaModel*>(&model);
    return m ? &m->llama() : nullptr;
}

}  // namespace sutra::model::llama
