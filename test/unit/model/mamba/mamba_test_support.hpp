#pragma once
// Helpers for the Mamba tests: the tiny-mamba fixture, a small random Mamba in memory (with
// its config.json), and the two ways of running tokens (one whole window; a state, in chunks).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "sutra/io/checkpoint.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/mamba/mamba_family.hpp"
#include "sutra/model/weights.hpp"
#include "unit/model/model_test_support.hpp"

namespace sutra::test::mamba {

using sutra::test::model::MapWeights;

inline std::filesystem::path fixture_dir() {
    return sutra::test::model::models_dir() / "tiny-mamba";
}

inline std::vector<float> read_f32(const std::filesystem::path& p) {
    const std::string bytes = sutra::test::model::read_text(p);
    REQUIRE(bytes.size() % 4 == 0);
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
}

// The 13 tokens of expected_logits.f32: BOS + "Once upon a time, there was a little girl".
inline const std::vector<int32_t> kPrompt = {1,   403, 407, 261, 378, 432, 383,
                                             286, 261, 376, 298, 315, 421};

struct Fixture {
    std::unique_ptr<io::Checkpoint> checkpoint;
    std::unique_ptr<sutra::model::CheckpointWeights> weights;
    nlohmann::json config;
};

inline Fixture load_fixture() {
    Fixture f;
    auto ck = io::Checkpoint::open(fixture_dir());
    INFO(fixture_dir().string() << ": " << (ck.ok() ? "" : ck.error().message));
    REQUIRE(ck.ok());
    f.checkpoint = std::make_unique<io::Checkpoint>(std::move(*ck));
    f.weights = std::make_unique<sutra::model::CheckpointWeights>(*f.checkpoint);
    f.config = nlohmann::json::parse(sutra::test::model::read_text(fixture_dir() / "config.json"));
    return f;
}

// Every tensor of the fixture in memory, to rename or edit.
inline MapWeights to_map(const Fixture& f) {
    MapWeights w;
    for (const io::TensorRef& t : f.checkpoint->tensors()) {
        auto v = f.checkpoint->read_all_f32(t);
        REQUIRE(v.ok());
        w.put(t.name, t.shape, std::move(*v));
    }
    return w;
}

inline std::unique_ptr<sutra::model::Model> open_model(const nlohmann::json* config,
                                                       const sutra::model::WeightSource& w,
                                                       bool keep = true) {
    sutra::model::ModelOptions o;
    o.keep_weights = keep;
    auto m = sutra::model::mamba::open(config, w, o);
    INFO((m.ok() ? "" : m.error().message));
    REQUIRE(m.ok());
    return std::move(*m);
}

// A small random Mamba: hidden 12, inner 24, state 5 (not a multiple of the scan's 8 lanes),
// conv 4, dt_rank 3, 2 layers, vocab 30; biases and head as asked. Trained-like ranges for
// the SSM parameters: A_log = log(1..N) + noise, D about 1, dt_proj.bias the inverse softplus
// of steps in [0.01, 0.5].
struct RandomSpec {
    bool bias = false;
    bool conv_bias = true;
    bool tied = true;
    uint32_t seed = 11;
};

inline nlohmann::json random_config(const RandomSpec& s) {
    return {{"architectures", {"MambaForCausalLM"}},
            {"model_type", "mamba"},
            {"hidden_size", 12},
            {"num_hidden_layers", 2},
            {"vocab_size", 30},
            {"state_size", 5},
            {"conv_kernel", 4},
            {"expand", 2},
            {"intermediate_size", 24},
            {"time_step_rank", 3},
            {"layer_norm_epsilon", 1e-5},
            {"use_bias", s.bias},
            {"use_conv_bias", s.conv_bias},
            {"hidden_act", "silu"},
            {"tie_word_embeddings", s.tied},
            {"bos_token_id", 1},
            {"eos_token_id", 2}};
}

inline MapWeights random_weights(const RandomSpec& s) {
    const uint64_t H = 12, I = 24, N = 5, K = 4, R = 3, V = 30;
    std::mt19937 rng(s.seed);
    std::normal_distribution<float> nd(0.0f, 0.3f);
    std::uniform_real_distribution<float> ud(0.0f, 1.0f);
    auto rnd = [&](uint64_t n, float scale = 1.0f, float offset = 0.0f) {
        std::vector<float> v(n);
        for (auto& x : v)
            x = nd(rng) * scale + offset;
        return v;
    };
    MapWeights w;
    w.put("backbone.embeddings.weight", {V, H}, rnd(V * H, 3.0f));
    for (int l = 0; l < 2; ++l) {
        const std::string p = "backbone.layers." + std::to_string(l) + ".";
        w.put(p + "norm.weight", {H}, rnd(H, 1.0f, 1.0f));
        w.put(p + "mixer.in_proj.weight", {2 * I, H}, rnd(2 * I * H));
        if (s.bias) w.put(p + "mixer.in_proj.bias", {2 * I}, rnd(2 * I));
        w.put(p + "mixer.conv1d.weight", {I, 1, K}, rnd(I * K, 2.0f));
        if (s.conv_bias) w.put(p + "mixer.conv1d.bias", {I}, rnd(I));
        w.put(p + "mixer.x_proj.weight", {R + 2 * N, I}, rnd((R + 2 * N) * I, 2.0f));
        w.put(p + "mixer.dt_proj.weight", {I, R}, rnd(I * R));
        std::vector<float> dt_bias(I), a_log(I * N);
        for (auto& b : dt_bias) {
            const float dt = 0.01f + 0.49f * ud(rng);
            b = std::log(std::expm1(dt));
        }
        for (uint64_t c = 0; c < I; ++c)
            for (uint64_t n = 0; n < N; ++n)
                a_log[c * N + n] = std::log(static_cast<float>(n + 1)) + 0.3f * nd(rng);
        w.put(p + "mixer.dt_proj.bias", {I}, dt_bias);
        w.put(p + "mixer.A_log", {I, N}, a_log);
        w.put(p + "mixer.D", {I}, rnd(I, 1.0f, 1.0f));
        w.put(p + "mixer.out_proj.weight", {H, I}, rnd(H * I));
        if (s.bias) w.put(p + "mixer.out_proj.bias", {H}, rnd(H));
    }
    w.put("backbone.norm_f.weight", {H}, rnd(H, 1.0f, 1.0f));
    if (!s.tied) w.put("lm_head.weight", {V, H}, rnd(V * H));
    return w;
}

inline std::vector<int32_t> pseudo_tokens(size_t n, int32_t vocab, uint32_t seed = 5) {
    std::vector<int32_t> t(n);
    uint32_t x = seed;
    for (auto& id : t) {
        x = x * 1103515245u + 12345u;
        id = static_cast<int32_t>((x >> 16) % static_cast<uint32_t>(vocab));
    }
    return t;
}

// Logits [tokens, vocab] of one window from the initial state.
inline std::vector<float> window_logits(sutra::model::Model& m,
                                        const std::vector<int32_t>& tokens) {
    auto l = sutra::model::forward(m, tokens);
    INFO((l.ok() ? "" : l.error().message));
    REQUIRE(l.ok());
    return std::move(*l);
}

// The same through a state, fed in chunks of the given sizes (cycled; 1 = token by token).
inline std::vector<float> chunked_logits(sutra::model::Model& m, const std::vector<int32_t>& tokens,
                                         const std::vector<size_t>& chunks) {
    auto state = m.new_state();
    std::vector<float> all;
    size_t at = 0;
    for (size_t k = 0; at < tokens.size(); ++k) {
        const size_t n = std::min(chunks[k % chunks.size()], tokens.size() - at);
        auto l =
            sutra::model::forward(m, std::span<const int32_t>(tokens.data() + at, n), state.get());
        INFO((l.ok() ? "" : l.error().message));
        REQUIRE(l.ok());
        all.insert(all.end(), l->begin(), l->end());
        at += n;
        CHECK(state->position() == static_cast<int64_t>(at));
    }
    return all;
}

inline size_t argmax(std::span<const float> v) {
    size_t best = 0;
    for (size_t i = 1; i < v.size(); ++i)
        if (v[i] > v[best]) best = i;
    return best;
}

}  // namespace sutra::test::mamba
