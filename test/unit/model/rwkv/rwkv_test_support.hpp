#pragma once
// Helpers for the RWKV tests: the tiny-rwkv fixtures, opening a model over them, and the two
// ways of running tokens (one at a time with a state; one whole window).
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sutra/io/checkpoint.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/rwkv/rwkv_family.hpp"
#include "sutra/model/weights.hpp"
#include "unit/model/model_test_support.hpp"

namespace sutra::test::rwkv {

inline std::filesystem::path fixtures() {
    return sutra::test::model::models_dir() / "tiny-rwkv";
}

inline std::vector<float> read_f32(const std::filesystem::path& p) {
    const std::string bytes = sutra::test::model::read_text(p);
    REQUIRE(bytes.size() % 4 == 0);
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
}

// A checkpoint, its weights and (for a folder with config.json) its config.
struct Fixture {
    std::unique_ptr<io::Checkpoint> checkpoint;
    std::unique_ptr<sutra::model::CheckpointWeights> weights;
    std::optional<nlohmann::json> config;

    const nlohmann::json* config_ptr() const { return config ? &*config : nullptr; }
};

inline Fixture load_fixture(const std::filesystem::path& path) {
    Fixture f;
    auto ck = io::Checkpoint::open(path);
    INFO(path.string() << ": " << (ck.ok() ? "" : ck.error().message));
    REQUIRE(ck.ok());
    f.checkpoint = std::make_unique<io::Checkpoint>(std::move(*ck));
    f.weights = std::make_unique<sutra::model::CheckpointWeights>(*f.checkpoint);
    if (std::filesystem::is_directory(path) && std::filesystem::exists(path / "config.json")) {
        f.config = nlohmann::json::parse(sutra::test::model::read_text(path / "config.json"));
    }
    return f;
}

inline std::unique_ptr<sutra::model::Model> open_model(const Fixture& f, bool keep = true) {
    sutra::model::ModelOptions o;
    o.keep_weights = keep;
    auto m = sutra::model::rwkv::open(f.config_ptr(), *f.weights, o);
    INFO((m.ok() ? "" : m.error().message));
    REQUIRE(m.ok());
    return std::move(*m);
}

// Logits [tokens, vocab] with the tokens fed one at a time from a fresh state.
inline std::vector<float> step_logits(sutra::model::Model& m, const std::vector<int32_t>& tokens) {
    auto state = m.new_state();
    std::vector<float> all;
    for (int32_t t : tokens) {
        auto l = sutra::model::forward(m, std::span<const int32_t>(&t, 1), state.get());
        INFO((l.ok() ? "" : l.error().message));
        REQUIRE(l.ok());
        all.insert(all.end(), l->begin(), l->end());
    }
    REQUIRE(state->position() == static_cast<int64_t>(tokens.size()));
    return all;
}

// Logits [tokens, vocab] of one whole window from the initial state.
inline std::vector<float> window_logits(sutra::model::Model& m,
                                        const std::vector<int32_t>& tokens) {
    auto l = sutra::model::forward(m, tokens);
    INFO((l.ok() ? "" : l.error().message));
    REQUIRE(l.ok());
    return std::move(*l);
}

// Row `row` of logits [rows, vocab].
inline std::vector<float> row_of(const std::vector<float>& logits, size_t row, size_t vocab) {
    return {logits.begin() + static_cast<std::ptrdiff_t>(row * vocab),
            logits.begin() + static_cast<std::ptrdiff_t>((row + 1) * vocab)};
}

}  // namespace sutra::test::rwkv

namespace sutra::test::rwkv {

// Every tensor of a fixture in memory, to edit.
inline sutra::test::model::MapWeights to_map(const Fixture& f) {
    sutra::test::model::MapWeights w;
    for (const io::TensorRef& t : f.checkpoint->tensors()) {
        auto v = f.checkpoint->read_all_f32(t);
        REQUIRE(v.ok());
        w.put(t.name, t.shape, std::move(*v));
    }
    return w;
}

inline size_t argmax(std::span<const float> v) {
    size_t best = 0;
    for (size_t i = 1; i < v.size(); ++i)
        if (v[i] > v[best]) best = i;
    return best;
}

}  // namespace sutra::test::rwkv
