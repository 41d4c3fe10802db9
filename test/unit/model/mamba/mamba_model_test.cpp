// The Mamba-1 model on small random weights in memory: the whole-window and the continued
// forms agree for every window length and chunking (lengths below d_conv included), with and
// without biases; bad inputs give clear errors; the block view (load_block, run_block_with,
// the AWQ scaling groups) keeps the block's function.
#include <catch2/catch.hpp>
#include <map>

#include "unit/model/mamba/mamba_test_support.hpp"

using namespace sutra;
using sutra::test::model::max_abs_diff;
namespace mfx = sutra::test::mamba;

namespace {

// Agreement of two f32 computations of the same logits (matrix products over different row
// counts round differently).
constexpr double kAgree = 1e-4;

}  // namespace

TEST_CASE("mamba: whole windows and continued states agree", "[mamba]") {
    for (const mfx::RandomSpec spec : {mfx::RandomSpec{}, mfx::RandomSpec{true, false, false, 3}}) {
        const auto config = mfx::random_config(spec);
        const auto w = mfx::random_weights(spec);
        auto m = mfx::open_model(&config, w);
        for (size_t len : {1, 2, 3, 4, 5, 9, 23}) {
            INFO("bias " << spec.bias << ", window length " << len);
            const auto tokens = mfx::pseudo_tokens(len, 30, static_cast<uint32_t>(len));
            const auto window = mfx::window_logits(*m, tokens);
            REQUIRE(window.size() == len * 30);
            CHECK(test::model::max_abs(window) > 0.5);
            CHECK(max_abs_diff(mfx::chunked_logits(*m, tokens, {1}), window) < kAgree);
            CHECK(max_abs_diff(mfx::chunked_logits(*m, tokens, {2}), window) < kAgree);
            CHECK(max_abs_diff(mfx::chunked_logits(*m, tokens, {3, 1, 5}), window) < kAgree);
            // A window's logits are those of its prefix: nothing leaks from later tokens.
            if (len > 1) {
                std::vector<int32_t> prefix(tokens.begin(), tokens.end() - 1);
                const auto shorter = mfx::window_logits(*m, prefix);
                CHECK(max_abs_diff(shorter, std::vector<float>(window.begin(), window.end() - 30)) <
                      kAgree);
            }
        }
    }
}

TEST_CASE("mamba: several windows in one call, streamed or kept weights", "[mamba]") {
    const mfx::RandomSpec spec;
    const auto config = mfx::random_config(spec);
    const auto w = mfx::random_weights(spec);
    auto kept = mfx::open_model(&config, w, true);
    auto streamed = mfx::open_model(&config, w, false);
    std::vector<std::vector<int32_t>> texts = {
        mfx::pseudo_tokens(7, 30, 1), mfx::pseudo_tokens(2, 30, 2), mfx::pseudo_tokens(12, 30, 3)};
    std::vector<model::Activations> xs(texts.size());
    for (size_t i = 0; i < texts.size(); ++i)
        REQUIRE(streamed->embed(texts[i], 0, xs[i]).ok());
    for (int l = 0; l < 2; ++l)
        REQUIRE(streamed->run_block(l, xs).ok());
    std::vector<std::vector<float>> got;
    REQUIRE(streamed
                ->head_each(xs,
                            [&](size_t, std::span<const float> logits) -> Status {
                                got.emplace_back(logits.begin(), logits.end());
                                return {};
                            })
                .ok());
    REQUIRE(got.size() == 3);
    for (size_t i = 0; i < texts.size(); ++i)
        CHECK(got[i] == mfx::window_logits(*kept, texts[i]));  // same products: same bits
}

TEST_CASE("mamba: the linear observer and the linear tensors", "[mamba]") {
    const mfx::RandomSpec spec;
    const auto config = mfx::random_config(spec);
    const auto w = mfx::random_weights(spec);
    auto m = mfx::open_model(&config, w);
    std::map<std::pair<int, std::string>, std::pair<int64_t, int64_t>> seen;
    m->set_linear_observer(
        [&](int layer, std::string_view name, const float*, int64_t rows, int64_t cols) {
            seen[{layer, std::string(name)}] = {rows, cols};
        });
    mfx::window_logits(*m, mfx::pseudo_tokens(6, 30));
    m->set_linear_observer(nullptr);
    CHECK(seen.size() == 9);
    for (int l = 0; l < 2; ++l) {
        CHECK(seen[{l, "mixer.in_proj"}] == std::pair<int64_t, int64_t>{6, 12});
        CHECK(seen[{l, "mixer.x_proj"}] == std::pair<int64_t, int64_t>{6, 24});
        CHECK(seen[{l, "mixer.dt_proj"}] == std::pair<int64_t, int64_t>{6, 3});
        CHECK(seen[{l, "mixer.out_proj"}] == std::pair<int64_t, int64_t>{6, 24});
    }
    CHECK(seen[{-1, "lm_head"}] == std::pair<int64_t, int64_t>{6, 12});
    for (const auto& [key, v] : seen) {
        const std::string t = m->linear_tensor(key.first, key.second);
        INFO(key.second << " -> " << t);
        CHECK(w.has(t));
    }
    CHECK(m->linear_tensor(1, "mixer.out_proj") == "backbone.layers.1.mixer.out_proj.weight");
    CHECK(m->linear_tensor(-1, "lm_head") == "backbone.embeddings.weight");
    CHECK(m->linear_tensor(2, "mixer.in_proj").empty());
    CHECK(m->linear_tensor(0, "mixer.conv1d").empty());
    CHECK(m->keep_reason("backbone.layers.0.mixer.A_log") != "");
    CHECK(m->keep_reason("backbone.layers.0.mixer.x_proj.weight") == "");
}

TEST_CASE("mamba: bad inputs give clear errors", "[mamba]") {
    const mfx::RandomSpec spec;
    const auto config = mfx::random_config(spec);
    model::ModelOptions o;
    auto open_error = [&](const nlohmann::json* c, const mfx::MapWeights& w) {
        auto m = model::mamba::open(c, w, o);
        REQUIRE_FALSE(m.ok());
        return m.error();
    };
    SECTION("a missing tensor") {
        auto w = mfx::random_weights(spec);
        w.erase("backbone.layers.1.mixer.dt_proj.bias");
        const Error e = open_error(&config, w);
        CHECK(e.code == Errc::not_found);
        CHECK(e.message.find("backbone.layers.1.mixer.dt_proj.bias") != std::string::npos);
        w = mfx::random_weights(spec);
        w.erase("backbone.norm_f.weight");
        CHECK(open_error(nullptr, w).message.find("norm_f") != std::string::npos);
    }
    SECTION("a tensor of the wrong shape") {
        auto w = mfx::random_weights(spec);
        w.put("backbone.layers.1.mixer.A_log", {24, 4}, std::vector<float>(96, 0.0f));
        Error e = open_error(&config, w);
        CHECK(e.code == Errc::bad_format);
        CHECK(e.message.find("backbone.layers.1.mixer.A_log") != std::string::npos);
        CHECK(e.message.find("[24, 5]") != std::string::npos);
        // Without config.json, block 0 sets the sizes and block 1 disagrees.
        e = open_error(nullptr, w);
        CHECK(e.code == Errc::bad_format);
        CHECK(e.message.find("block 0") != std::string::npos);
        w = mfx::random_weights(spec);
        w.put("backbone.layers.0.mixer.conv1d.weight", {24, 4}, std::vector<float>(96, 0.0f));
        e = open_error(nullptr, w);
        CHECK(e.message.find("conv1d.weight") != std::string::npos);
    }
    SECTION("config.json disagreeing with the tensors") {
        const auto w = mfx::random_weights(spec);
        nlohmann::json c = config;
        c["intermediate_size"] = 20;
        CHECK(open_error(&c, w).message.find("config.json implies") != std::string::npos);
        c = config;
        c["time_step_rank"] = "auto";  // ceil(12 / 16) = 1, not 3
        CHECK(open_error(&c, w).message.find(
                  "mixer.x_proj.weight' has shape [13, 24] but config.json implies [11, 24]") !=
              std::string::npos);
        c = config;
        c["vocab_size"] = 31;
        CHECK(open_error(&c, w).code == Errc::bad_format);
        c = config;
        c["eos_token_id"] = 30;
        CHECK(open_error(&c, w).message.find("eos_token_id") != std::string::npos);
        c = config;
        c["tie_word_embeddings"] = false;
        CHECK(open_error(&c, w).message.find("lm_head.weight") != std::string::npos);
        const nlohmann::json mamba2 = {
            {"d_model", 12}, {"n_layer", 2}, {"ssm_cfg", {{"layer", "Mamba2"}}}};
        auto e = open_error(&mamba2, w);
        CHECK(e.code == Errc::unsupported);
        CHECK(e.message.find("Mamba-2") != std::string::npos);
        mfx::MapWeights none;
        CHECK(open_error(&config, none).code == Errc::not_found);
    }
    SECTION("tokens, positions and activations") {
        const auto w = mfx::random_weights(spec);
        auto m = mfx::open_model(&config, w);
        model::Activations x;
        auto s = m->embed(std::vector<int32_t>{3, 30}, 0, x);
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code == Errc::invalid_argument);
        CHECK(s.error().message.find("id 30") != std::string::npos);
        CHECK_FALSE(m->embed(std::vector<int32_t>{-1}, 0, x).ok());
        CHECK_FALSE(m->embed(std::vector<int32_t>{}, 0, x).ok());

        auto state = m->new_state();
        REQUIRE(m->embed(std::vector<int32_t>{3, 4}, 0, x).ok());
        REQUIRE(m->run_block(0, x, *state).ok());
        model::Activations y;
        REQUIRE(m->embed(std::vector<int32_t>{5}, 0, y).ok());
        s = m->run_block(0, y, *state);  // layer 0 has seen 2 tokens
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code == Errc::invalid_argument);
        CHECK(s.error().message.find("seen 2") != std::string::npos);
        y.first_position = 2;
        CHECK(m->run_block(0, y, *state).ok());
        CHECK_FALSE(m->run_block(2, y, *state).ok());
        CHECK(state->position() == 0);  // the last layer has seen nothing yet

        model::Activations windowed;
        REQUIRE(m->embed(std::vector<int32_t>{5}, 1, windowed).ok());
        CHECK_FALSE(m->run_block(0, std::span<model::Activations>(&windowed, 1)).ok());
        windowed.first_position = 0;
        windowed.cols = 11;
        CHECK_FALSE(m->run_block(0, std::span<model::Activations>(&windowed, 1)).ok());
        std::vector<float> logits;
        CHECK_FALSE(m->head(windowed, logits).ok());

        // A state of another model.
        const auto other_config = mfx::random_config(spec);
        auto other_w = mfx::random_weights(spec);
        nlohmann::json c3 = other_config;
        c3["state_size"] = 4;
        auto w3 = mfx::random_weights(spec);
        for (int l = 0; l < 2; ++l) {
            const std::string p = "backbone.layers." + std::to_string(l) + ".mixer.";
            w3.put(p + "A_log", {24, 4}, std::vector<float>(96, 0.0f));
            w3.put(p + "x_proj.weight", {11, 24}, std::vector<float>(11 * 24, 0.0f));
        }
        auto m3 = mfx::open_model(&c3, w3);
        auto foreign = m3->new_state();
        REQUIRE(m->embed(std::vector<int32_t>{5}, 0, y).ok());
        CHECK_FALSE(m->run_block(0, y, *foreign).ok());
    }
}

TEST_CASE("mamba: the block view keeps the block's function", "[mamba]") {
    const mfx::RandomSpec spec{true, true, true, 21};
    const auto config = mfx::random_config(spec);
    const auto w = mfx::random_weights(spec);
    auto m = mfx::open_model(&config, w);
    const auto tokens = mfx::pseudo_tokens(9, 30);
    model::Activations x0;
    REQUIRE(m->embed(tokens, 0, x0).ok());

    auto b = m->load_block(1);
    REQUIRE(b.ok());
    CHECK(b->layer == 1);
    CHECK(b->tensors.size() == 12);
    CHECK(m->block_tensor(1, "mixer.A_log") == "backbone.layers.1.mixer.A_log");
    for (const auto& bl : m->block_linears(1)) {
        const auto* t = b->find(bl.name + ".weight");
        REQUIRE(t);
        CHECK(static_cast<int64_t>(t->size()) == bl.out * bl.in);
    }

    auto run_with = [&](const model::BlockTensors& t) {
        model::Activations x = x0;
        REQUIRE(m->run_block_with(t, std::span<model::Activations>(&x, 1)).ok());
        return x.data;
    };
    model::Activations ref = x0;
    REQUIRE(m->run_block(1, std::span<model::Activations>(&ref, 1)).ok());
    CHECK(run_with(*b) == ref.data);

    // Each AWQ group: inputs / s, weights' columns * s, 1/s folded as the group says.
    for (const model::ScaleGroup& g : m->scale_groups(1)) {
        INFO(g.name);
        model::BlockTensors t = *b;
        const auto& lin = m->block_linears(1);
        int64_t in = 0;
        for (const auto& bl : lin)
            if (bl.name == g.linears[0]) in = bl.in;
        REQUIRE(in > 0);
        std::vector<float> s(static_cast<size_t>(in));
        for (size_t c = 0; c < s.size(); ++c)
            s[c] = 0.5f + 0.25f * static_cast<float>(c % 5);
        for (const std::string& l : g.linears) {
            auto& wl = *t.find(l + ".weight");
            for (size_t r = 0; r < wl.size() / s.size(); ++r)
                for (size_t c = 0; c < s.size(); ++c)
                    wl[r * s.size() + c] *= s[c];
        }
        for (const std::string& f : g.fold_tensors) {
            auto& v = *t.find(f);
            if (g.fold == model::ScaleGroup::Fold::vector) {
                REQUIRE(v.size() == s.size());
                for (size_t c = 0; c < s.size(); ++c)
                    v[c] /= s[c];
            } else {
                const size_t cols = 24;  // x_proj's input width
                for (size_t c = 0; c < s.size(); ++c)
                    for (size_t k = 0; k < cols; ++k)
                        v[(static_cast<size_t>(g.fold_row_offset) + c) * cols + k] /= s[c];
            }
        }
        CHECK(max_abs_diff(run_with(t), ref.data) < 1e-4);
    }

    model::BlockTensors broken = *b;
    broken.tensors.erase("mixer.D");
    model::Activations x = x0;
    auto s = m->run_block_with(broken, std::span<model::Activations>(&x, 1));
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find("mixer.D") != std::string::npos);
}

TEST_CASE("mamba: which configs and tensors the family claims", "[mamba]") {
    CHECK(model::mamba::claims_config({{"model_type", "mamba"}}));
    CHECK(model::mamba::claims_config({{"architectures", {"MambaForCausalLM"}}}));
    CHECK(model::mamba::claims_config({{"d_model", 768}, {"n_layer", 24}, {"ssm_cfg", {}}}));
    CHECK_FALSE(model::mamba::claims_config({{"model_type", "mamba2"}}));
    CHECK_FALSE(model::mamba::claims_config({{"model_type", "llama"}, {"d_model", 1}}));
    CHECK_FALSE(model::mamba::claims_config(nlohmann::json::array()));
    CHECK(model::mamba::claims_tensors(mfx::random_weights({})));
    mfx::MapWeights llama;
    llama.put("model.embed_tokens.weight", {2, 2}, {0, 0, 0, 0});
    CHECK_FALSE(model::mamba::claims_tensors(llama));
}
