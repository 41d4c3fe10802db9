#pragma once
// Helpers for the model tests: fixture paths, file reading, an in-memory WeightSource and a
// small random Llama built in it.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "sutra/model/llama/llama_config.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::test::model {

inline std::filesystem::path shared_dir() {
    return SUTRA_SHARED_DIR;
}
inline std::filesystem::path models_dir() {
    return shared_dir() / "models";
}

inline std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// golden_greedy_256.txt: '#' header lines, one line of ids, then the decoded text.
struct Golden {
    std::vector<int32_t> ids;
    std::string text;
};

inline Golden read_golden(const std::filesystem::path& p) {
    const std::string all = read_text(p);
    Golden g;
    size_t pos = 0;
    while (pos < all.size() && all[pos] == '#')
        pos = all.find('\n', pos) + 1;
    const size_t eol = all.find('\n', pos);
    std::istringstream ids(all.substr(pos, eol - pos));
    for (int32_t id; ids >> id;)
        g.ids.push_back(id);
    g.text = all.substr(eol + 1);
    if (!g.text.empty() && g.text.back() == '\n') g.text.pop_back();
    return g;
}

// Tensors held in memory; shapes as given.
class MapWeights final : public sutra::model::WeightSource {
  public:
    void put(const std::string& name, std::vector<uint64_t> shape, std::vector<float> data) {
        tensors_[name] = {std::move(shape), std::move(data)};
    }
    void erase(const std::string& name) { tensors_.erase(name); }
    std::vector<float>& data(const std::string& name) { return tensors_.at(name).second; }

    bool has(std::string_view name) const override {
        return tensors_.count(std::string(name)) != 0;
    }
    Result<std::vector<uint64_t>> shape(std::string_view name) const override {
        auto it = tensors_.find(std::string(name));
        if (it == tensors_.end()) return make_error(Errc::not_found, std::string(name));
        return it->second.first;
    }
    Result<std::vector<float>> load(std::string_view name) const override {
        ++loads;
        auto it = tensors_.find(std::string(name));
        if (it == tensors_.end()) return make_error(Errc::not_found, std::string(name));
        return it->second.second;
    }
    mutable int64_t loads = 0;

  private:
    std::map<std::string, std::pair<std::vector<uint64_t>, std::vector<float>>> tensors_;
};

// A small random model: hidden 16, 2 layers, 4 heads, 2 KV heads (head_dim 4), MLP 24,
// vocab 40, untied lm_head; q/k/v biases when `bias` (qwen2).
inline sutra::model::LlamaConfig tiny_config(bool bias = false) {
    sutra::model::LlamaConfig c;
    c.model_type = bias ? "qwen2" : "llama";
    c.hidden_size = 16;
    c.intermediate_size = 24;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 2;
    c.head_dim = 4;
    c.vocab_size = 40;
    c.rms_norm_eps = 1e-5;
    c.attention_bias = bias;
    return c;
}

inline MapWeights tiny_weights(const sutra::model::LlamaConfig& c, uint32_t seed = 7) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.3f);
    auto rnd = [&](uint64_t n, float offset = 0.0f) {
        std::vector<float> v(n);
        for (auto& x : v)
            x = nd(rng) + offset;
        return v;
    };
    const auto h = static_cast<uint64_t>(c.hidden_size);
    const auto i = static_cast<uint64_t>(c.intermediate_size);
    const auto qw = static_cast<uint64_t>(c.q_width());
    const auto kw = static_cast<uint64_t>(c.kv_width());
    const auto vocab = static_cast<uint64_t>(c.vocab_size);
    MapWeights w;
    w.put("model.embed_tokens.weight", {vocab, h}, rnd(vocab * h));
    for (int l = 0; l < c.num_hidden_layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        w.put(p + "input_layernorm.weight", {h}, rnd(h, 1.0f));
        w.put(p + "self_attn.q_proj.weight", {qw, h}, rnd(qw * h));
        w.put(p + "self_attn.k_proj.weight", {kw, h}, rnd(kw * h));
        w.put(p + "self_attn.v_proj.weight", {kw, h}, rnd(kw * h));
        w.put(p + "self_attn.o_proj.weight", {h, qw}, rnd(h * qw));
        if (c.attention_bias) {
            w.put(p + "self_attn.q_proj.bias", {qw}, rnd(qw));
            w.put(p + "self_attn.k_proj.bias", {kw}, rnd(kw));
            w.put(p + "self_attn.v_proj.bias", {kw}, rnd(kw));
        }
        if (c.o_bias) w.put(p + "self_attn.o_proj.bias", {h}, rnd(h));
        if (c.qk_norm) {
            const auto d = static_cast<uint64_t>(c.head_dim);
            w.put(p + "self_attn.q_norm.weight", {d}, rnd(d, 1.0f));
            w.put(p + "self_attn.k_norm.weight", {d}, rnd(d, 1.0f));
        }
        w.put(p + "post_attention_layernorm.weight", {h}, rnd(h, 1.0f));
        w.put(p + "mlp.gate_proj.weight", {i, h}, rnd(i * h));
        w.put(p + "mlp.up_proj.weight", {i, h}, rnd(i * h));
        w.put(p + "mlp.down_proj.weight", {h, i}, rnd(h * i));
    }
    w.put("model.norm.weight", {h}, rnd(h, 1.0f));
    if (!c.tie_word_embeddings) w.put("lm_head.weight", {vocab, h}, rnd(vocab * h));
    return w;
}

// Largest |a_i - b_i| (the sizes must agree) and largest |a_i|, in double: logit comparisons.
inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i)
        m = std::max(m, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    return m;
}

inline double max_abs(const std::vector<float>& a) {
    double m = 0;
    for (float v : a)
        m = std::max(m, std::fabs(static_cast<double>(v)));
    return m;
}

}  // namespace sutra::test::model
