#include "sutra/calib/calibration.hpp"

#include <algorithm>

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
