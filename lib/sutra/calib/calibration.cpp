#include "sutra/calib/calibration.hpp"

#include <algorithm>

#include "sutra/model/llama/llama_family.hpp"

namespace sutra::calib {

ModelFingerprint ModelFingerprint::of(const model::LlamaConfig& c) {
    ModelFingerprint f;
    f.model_type = c.model_type;
    f.hidden_size = c.hidden_size;
    f.intermediate_size = c.intermediate_size;
    f.num_hidden_layers = c.num_hidden_layers;
    f.num_attention_heads = c.num_attention_heads;
    f.num_key_value_heads = c.num_key_value_heads;
    f.head_dim = c.head_dim;
    f.vocab_size = c.vocab_size;
    return f;
}

ModelFingerprint ModelFingerprint::of(model::Model& m) {
    if (const model::Llama* l = model::llama::as_llama(m)) return of(l->config());
    const model::ModelInfo& info = m.info();
    ModelFingerprint f;
    f.family = info.family;
    f.variant = info.variant;
    f.hidden_size = info.hidden_size;
    f.num_hidden_layers = info.num_layers;
    f.vocab_size = info.vocab_size;
    f.linears = static_cast<int64_t>(linear_inputs(m).size());
    for (int l = 0; l < info.num_layers; ++l)
        for (const model::BlockLinear& b : m.block_linears(l))
            f.linear_weights += b.out * b.in;
    return f;
}

std::string ModelFingerprint::describe() const {
    auto field = [](const char* key, int64_t v) {
        return std::string(key) + " " + std::to_string(v);
    };
    if (family == "llama")
        return "a llama model (model_type \"" + model_type + "\", " +
               field("hidden_size", hidden_size) + ", " +
               field("intermediate_size", intermediate_size) + ", " +
               field("num_hidden_layers", num_hidden_layers) + ", " +
               field("num_attention_heads", num_attention_heads) + ", " +
               field("num_key_value_heads", num_key_value_heads) + ", " +
               field("head_dim", head_dim) + ", " + field("vocab_size", vocab_size) + ")";
    return "a " + family + " " + variant + " model (" + field("hidden_size", hidden_size) + ", " +
           field("num_layers", num_hidden_layers) + ", " + field("vocab_size", vocab_size) + ", " +
           field("linears", linears) + ", " + field("linear_weights", linear_weights) + ")";
}

std::string linear_key(int layer, std::string_view linear) {
    if (layer < 0) return std::string(linear);
    return "model.layers." + std::to_string(layer) + "." + std::string(linear);
}

std::vector<LinearInput> linear_inputs(const model::LlamaConfig& c) {
    std::vector<LinearInput> v;
    const struct {
        const char* name;
        int64_t width;
    } per_block[] = {{"self_attn.q_proj", c.hidden_size},   {"self_attn.k_proj", c.hidden_size},
                     {"self_attn.v_proj", c.hidden_size},   {"self_attn.o_proj", c.q_width()},
                     {"mlp.gate_proj", c.hidden_size},      {"mlp.up_proj", c.hidden_size},
                     {"mlp.down_proj", c.intermediate_size}};
    for (int l = 0; l < c.num_hidden_layers; ++l) {
        for (const auto& e : per_block)
            v.push_back({linear_key(l, e.name), l, e.name, e.width});
    }
    v.push_back({"lm_head", -1, "lm_head", c.hidden_size});
    return v;
}

std::vector<LinearInput> linear_inputs(const model::Model& m) {
    std::vector<LinearInput> v;
    constexpr std::string_view kWeight = ".weight";
    for (int l = 0; l < m.info().num_layers; ++l) {
        for (const model::BlockLinear& b : m.block_linears(l)) {
            std::string key = m.linear_tensor(l, b.name);
            if (key.empty()) key = m.block_tensor(l, b.name + std::string(kWeight));
            if (key.empty()) key = linear_key(l, b.name);
            if (key.size() > kWeight.size() &&
                key.compare(key.size() - kWeight.size(), kWeight.size(), kWeight) == 0)
                key.resize(key.size() - kWeight.size());
            v.push_back({std::move(key), l, b.name, b.in});
        }
    }
    v.push_back({"lm_head", -1, "lm_head", m.info().hidden_size});
    return v;
}

int32_t window_start_id(const model::ModelInfo& m, int32_t bos_id) {
    return bos_id >= 0 ? bos_id : m.bos_id;
}

Result<Windows> cut_windows(std::span<const int32_t> text_tokens, int64_t seq_len,
                            int64_t max_tokens, int32_t bos_id) {
    if (seq_len < 2)
        return make_error(Errc::invalid_argument,
                          "calibration: --seq-len must be at least 2 (BOS + one token), got " +
                              std::to_string(seq_len));
    if (max_tokens < 0)
        return make_error(Errc::invalid_argument,
                          "calibration: the token limit must not be negative (0 = all)");
    auto n = static_cast<int64_t>(text_tokens.size());
    const int64_t limit = max_tokens > 0 ? std::min(n, max_tokens) : n;
    // Without a BOS (bos_id < 0: a family that starts from its initial state), a window is
    // seq_len text tokens.
    const int64_t chunk = bos_id < 0 ? seq_len : seq_len - 1;
    Windows w;
    w.seq_len = seq_len;
    w.count = limit / chunk;
    if (w.count == 0)
        return make_error(Errc::invalid_argument,
                          "calibration: " + std::to_string(limit) + " text tokens " +
                              (limit < n ? "allowed by the token limit " : "in the text ") +
                              "do not fill one window of " + std::to_string(chunk) +
                              " tokens (seq_len " + std::to_string(seq_len) +
                              " minus BOS); use a smaller --seq-len, a larger --tokens or a "
                              "longer text");
    w.tokens.reserve(static_cast<size_t>(w.count * seq_len));
    for (int64_t i = 0; i < w.count; ++i) {
        if (bos_id >= 0) w.tokens.push_back(bos_id);
        const auto b = text_tokens.begin() + static_cast<std::ptrdiff_t>(i * chunk);
        w.tokens.insert(w.tokens.end(), b, b + static_cast<std::ptrdiff_t>(chunk));
    }
    return w;
}

std::vector<std::span<const int32_t>> windows_of(const CalibrationData& data) {
    std::vector<std::span<const int32_t>> v;
    if (data.seq_len <= 0 || data.windows <= 0 ||
        data.tokens.size() != static_cast<size_t>(data.windows * data.seq_len))
        return v;
    for (int64_t i = 0; i < data.windows; ++i)
        v.emplace_back(data.tokens.data() + i * data.seq_len, static_cast<size_t>(data.seq_len));
    return v;
}

}  // namespace sutra::calib
