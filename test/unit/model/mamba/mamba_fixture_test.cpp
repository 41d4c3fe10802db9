// The Mamba-1 forward pass against the references of /work/shared/models/tiny-mamba (an
// independent float64 numpy forward written from transformers' MambaMixer slow path): the
// logits of 13 tokens in the whole-window form, step by step and mixed; the greedy 128 ids;
// the perplexity on the evaluation text; the same model in the original naming and without
// config.json.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>

#include "sutra/model/evaluate.hpp"
#include "sutra/model/tokenizer.hpp"
#include "unit/model/mamba/mamba_test_support.hpp"

using namespace sutra;
using sutra::test::model::max_abs_diff;
namespace mfx = sutra::test::mamba;

namespace {

constexpr double kTolerance = 1e-4;

std::vector<float> expected_logits() {
    const auto want = mfx::read_f32(mfx::fixture_dir() / "expected_logits.f32");
    REQUIRE(want.size() == 13 * 512);
    return want;
}

}  // namespace

TEST_CASE("mamba: tiny-mamba logits, as one window, step by step and mixed", "[mamba][shared]") {
    const mfx::Fixture f = mfx::load_fixture();
    const auto want = expected_logits();
    for (bool keep : {true, false}) {
        auto m = mfx::open_model(&f.config, *f.weights, keep);
        const model::ModelInfo& info = m->info();
        CHECK(info.family == "mamba");
        CHECK(info.variant == "1");
        CHECK(info.hidden_size == 128);
        CHECK(info.num_layers == 4);
        CHECK(info.vocab_size == 512);
        CHECK(info.bos_id == 1);
        CHECK(info.eos_ids == std::vector<int32_t>{2});

        const double d_window = max_abs_diff(mfx::window_logits(*m, mfx::kPrompt), want);
        const double d_step = max_abs_diff(mfx::chunked_logits(*m, mfx::kPrompt, {1}), want);
        const double d_mixed = max_abs_diff(mfx::chunked_logits(*m, mfx::kPrompt, {5, 1}), want);
        const double d_chunks =
            max_abs_diff(mfx::chunked_logits(*m, mfx::kPrompt, {2, 3, 7}), want);
        std::printf(
            "mamba tiny-mamba keep=%d: window %.3g step %.3g window5+steps %.3g chunks "
            "2,3,7 %.3g\n",
            keep ? 1 : 0, d_window, d_step, d_mixed, d_chunks);
        CHECK(d_window < kTolerance);
        CHECK(d_step < kTolerance);
        CHECK(d_mixed < kTolerance);
        CHECK(d_chunks < kTolerance);
    }
}

TEST_CASE("mamba: tiny-mamba greedy 128 ids from BOS, step by step", "[mamba][shared]") {
    const mfx::Fixture f = mfx::load_fixture();
    const auto golden = test::model::read_golden(mfx::fixture_dir() / "golden_greedy_128.txt");
    REQUIRE(golden.ids.size() == 129);
    auto m = mfx::open_model(&f.config, *f.weights);
    const int32_t bos = m->info().bos_id;
    REQUIRE(bos == golden.ids[0]);
    auto state = m->new_state();
    std::vector<int32_t> ids{bos};
    std::vector<float> logits;
    while (ids.size() < golden.ids.size()) {
        model::Activations x;
        REQUIRE(m->embed(std::span<const int32_t>(&ids.back(), 1), state->position(), x).ok());
        for (int l = 0; l < m->info().num_layers; ++l)
            REQUIRE(m->run_block(l, x, *state).ok());
        REQUIRE(m->head(x, logits).ok());
        ids.push_back(static_cast<int32_t>(mfx::argmax(logits)));
    }
    CHECK(state->position() == 128);
    CHECK(ids == golden.ids);
}

TEST_CASE("mamba: tiny-mamba perplexity on the first 20,000 tokens of tinystories_eval.txt",
          "[mamba][shared]") {
    const mfx::Fixture f = mfx::load_fixture();
    auto m = mfx::open_model(&f.config, *f.weights);
    auto tok = model::Tokenizer::load(mfx::fixture_dir() / "tok512.bin", 512);
    REQUIRE(tok.ok());
    const auto start = std::chrono::steady_clock::now();
    const auto text =
        test::model::read_text(test::model::shared_dir() / "text" / "tinystories_eval.txt");
    const std::vector<int32_t> tokens = tok->encode(text, false);
    REQUIRE(tokens.size() > 20000);
    const auto encoded = std::chrono::steady_clock::now();
    model::EvalOptions o;
    o.max_tokens = 20000;  // windows of BOS + 255 tokens (the default seq_len 256)
    auto r = model::evaluate_perplexity(*m, tokens, o);
    const auto end = std::chrono::steady_clock::now();
    REQUIRE(r.ok());
    std::printf(
        "mamba tiny-mamba perplexity %.4f over %lld tokens, %lld windows (tokenize "
        "%.2f s, evaluate %.2f s)\n",
        r->perplexity, static_cast<long long>(r->tokens), static_cast<long long>(r->windows),
        std::chrono::duration<double>(encoded - start).count(),
        std::chrono::duration<double>(end - encoded).count());
    CHECK(r->tokens == 20000);
    CHECK(r->windows == (20000 + 254) / 255);
    CHECK(r->perplexity == Approx(5.223).margin(0.002));
}

TEST_CASE("mamba: the original naming and config.json, and no config.json at all",
          "[mamba][shared]") {
    const mfx::Fixture f = mfx::load_fixture();
    const auto want = expected_logits();
    mfx::MapWeights w = mfx::to_map(f);
    SECTION("state-spaces layout: backbone.embedding.weight, d_model / n_layer / ssm_cfg") {
        auto emb = w.data("backbone.embeddings.weight");
        w.erase("backbone.embeddings.weight");
        w.put("backbone.embedding.weight", {512, 128}, emb);
        // 500 rounds up to the 512 rows of the embedding.
        const nlohmann::json original = {
            {"d_model", 128},
            {"n_layer", 4},
            {"vocab_size", 500},
            {"ssm_cfg", {{"d_state", 16}, {"d_conv", 4}, {"expand", 2}, {"dt_rank", "auto"}}},
            {"rms_norm", true},
            {"residual_in_fp32", true},
            {"fused_add_norm", true},
            {"pad_vocab_size_multiple", 64}};
        CHECK(model::mamba::claims_config(original));
        CHECK(model::mamba::claims_tensors(w));
        auto m = mfx::open_model(&original, w);
        CHECK(m->info().vocab_size == 512);
        CHECK(m->info().bos_id == 0);
        CHECK(m->linear_tensor(-1, "lm_head") == "backbone.embedding.weight");
        const double d = max_abs_diff(mfx::window_logits(*m, mfx::kPrompt), want);
        std::printf("mamba original naming: window %.3g\n", d);
        CHECK(d < kTolerance);
    }
    SECTION("no config.json: sizes from the tensors") {
        auto m = mfx::open_model(nullptr, w);
        CHECK(m->info().num_layers == 4);
        CHECK(m->info().hidden_size == 128);
        const double d = max_abs_diff(mfx::chunked_logits(*m, mfx::kPrompt, {1}), want);
        CHECK(d < kTolerance);
    }
    SECTION("an untied lm_head.weight") {
        w.put("lm_head.weight", {512, 128}, w.data("backbone.embeddings.weight"));
        nlohmann::json c = f.config;
        c["tie_word_embeddings"] = false;
        auto m = mfx::open_model(&c, w);
        CHECK(m->linear_tensor(-1, "lm_head") == "lm_head.weight");
        CHECK(max_abs_diff(mfx::window_logits(*m, mfx::kPrompt), want) < kTolerance);
    }
}

TEST_CASE("mamba: tiny-mamba with a config.json of another model", "[mamba][shared]") {
    const mfx::Fixture f = mfx::load_fixture();
    model::ModelOptions o;
    auto fails = [&](nlohmann::json c, const std::string& needle) {
        auto m = model::mamba::open(&c, *f.weights, o);
        REQUIRE_FALSE(m.ok());
        INFO(m.error().message);
        CHECK(m.error().message.find(needle) != std::string::npos);
        return m.error().code;
    };
    nlohmann::json c = f.config;
    c["hidden_size"] = 64;
    CHECK(fails(c, "backbone.embeddings.weight") == Errc::bad_format);
    c = f.config;
    c["state_size"] = 8;
    CHECK(fails(c, "backbone.layers.0.mixer.x_proj.weight") == Errc::bad_format);
    c = f.config;
    c["num_hidden_layers"] = 3;
    CHECK(fails(c, "backbone.layers.3.mixer.in_proj.weight") == Errc::bad_format);
    c = f.config;
    c["num_hidden_layers"] = 5;
    CHECK(fails(c, "backbone.layers.4.norm.weight") == Errc::not_found);
    c = f.config;
    c["use_conv_bias"] = false;
    CHECK(fails(c, "use_conv_bias false") == Errc::bad_format);
    c = f.config;
    c["use_bias"] = true;
    CHECK(fails(c, "mixer.in_proj.bias") == Errc::not_found);
    c = f.config;
    c["hidden_act"] = "gelu";
    CHECK(fails(c, "hidden_act") == Errc::unsupported);
    c = f.config;
    c["vocab_size"] = "512";
    CHECK(fails(c, "vocab_size") == Errc::bad_format);
}
