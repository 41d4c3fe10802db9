#include "sutra/model/evaluate.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "sutra/io/checkpoint.hpp"
#include "sutra/model/llama/llama.hpp"
#include "sutra/model/llama/llama_family.hpp"
#include "sutra/model/tokenizer.hpp"
#include "unit/model/model_test_support.hpp"

using sutra::Errc;
using sutra::model::EvalOptions;
using sutra::model::Llama;
using sutra::model::LlamaOptions;
namespace fx = sutra::test::model;

namespace {

std::vector<int32_t> pseudo_text(size_t n, int32_t vocab) {
    std::vector<int32_t> t(n);
    uint32_t s = 12345;
    for (auto& id : t) {
        s = s * 1103515245u + 12345u;
        id = static_cast<int32_t>((s >> 16) % static_cast<uint32_t>(vocab));
    }
    return t;
}

// Perplexity by hand: one forward per window, log-softmax in double.
double reference_nll(Llama& m, const std::vector<int32_t>& text, int64_t seq_len) {
    const auto V = static_cast<size_t>(m.config().vocab_size);
    double nll = 0.0;
    for (size_t b = 0; b < text.size(); b += static_cast<size_t>(seq_len - 1)) {
        const size_t n = std::min(text.size() - b, static_cast<size_t>(seq_len - 1));
        std::vector<int32_t> ids{1};
        ids.insert(ids.end(), text.begin() + static_cast<std::ptrdiff_t>(b),
                   text.begin() + static_cast<std::ptrdiff_t>(b + n));
        auto logits = m.forward(ids);
        REQUIRE(logits.ok());
        for (size_t i = 0; i < n; ++i) {
            const float* row = logits->data() + i * V;
            double z = 0.0;
            for (size_t j = 0; j < V; ++j)
                z += std::exp(static_cast<double>(row[j]));
            nll += std::log(z) - static_cast<double>(row[text[b + i]]);
        }
    }
    return nll / static_cast<double>(text.size());
}

}  // namespace

TEST_CASE("evaluate: windows score every token once", "[model][evaluate]") {
    const auto cfg = fx::tiny_config();
    const auto w = fx::tiny_weights(cfg);
    auto m = Llama::create(cfg, w, LlamaOptions{.keep_weights = true});
    REQUIRE(m.ok());
    const auto text = pseudo_text(100, 40);
    EvalOptions o;
    o.seq_len = 16;  // 15 text tokens per window: 7 windows, the last with 10
    o.window_batch = 3;
    auto r = sutra::model::evaluate_perplexity(*sutra::model::llama::view(*m), text, o);
    REQUIRE(r.ok());
    CHECK(r->tokens == 100);
    CHECK(r->windows == 7);
    CHECK(r->mean_nll == Approx(reference_nll(*m, text, 16)).epsilon(1e-6));
    CHECK(r->perplexity == Approx(std::exp(r->mean_nll)));

    // Batching does not change the result (bit for bit).
    o.window_batch = 1;
    auto r1 = sutra::model::evaluate_perplexity(*sutra::model::llama::view(*m), text, o);
    REQUIRE(r1.ok());
    CHECK(r1->mean_nll == r->mean_nll);

    // Streaming weights does not either.
    auto streamed = Llama::create(cfg, w);
    REQUIRE(streamed.ok());
    auto rs = sutra::model::evaluate_perplexity(*sutra::model::llama::view(*streamed), text, o);
    REQUIRE(rs.ok());
    CHECK(rs->mean_nll == r->mean_nll);

    o.max_tokens = 20;
    auto r2 = sutra::model::evaluate_perplexity(*sutra::model::llama::view(*m), text, o);
    REQUIRE(r2.ok());
    CHECK(r2->tokens == 20);
    CHECK(r2->windows == 2);
}

TEST_CASE("evaluate: bad arguments and interruption", "[model][evaluate]") {
    const auto cfg = fx::tiny_config();
    const auto w = fx::tiny_weights(cfg);
    auto m = Llama::create(cfg, w);
    REQUIRE(m.ok());
    EvalOptions o;
    CHECK_FALSE(
        sutra::model::evaluate_perplexity(*sutra::model::llama::view(*m), std::vector<int32_t>{}, o)
            .ok());
    o.seq_len = 1;
    CHECK_FALSE(
        sutra::model::evaluate_perplexity(*sutra::model::llama::view(*m), pseudo_text(10, 40), o)
            .ok());
    o.seq_len = 8;
    auto bad = sutra::model::evaluate_perplexity(*sutra::model::llama::view(*m),
                                                 std::vector<int32_t>{3, 4, 77}, o);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("77") != std::string::npos);

    o.window_batch = 1;
    int calls = 0;
    o.progress = [&](int64_t done, int64_t total) {
        CHECK(total == 50);
        CHECK(done <= total);
        return ++calls < 2;
    };
    auto stopped =
        sutra::model::evaluate_perplexity(*sutra::model::llama::view(*m), pseudo_text(50, 40), o);
    REQUIRE_FALSE(stopped.ok());
    CHECK(stopped.error().code == Errc::interrupted);
    CHECK(calls == 2);
}

TEST_CASE("evaluate: a model compared with itself", "[model][evaluate]") {
    const auto cfg = fx::tiny_config();
    const auto w = fx::tiny_weights(cfg);
    auto a = Llama::create(cfg, w, LlamaOptions{.keep_weights = true});
    auto b = Llama::create(cfg, w);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    const auto text = pseudo_text(90, 40);
    EvalOptions o;
    o.seq_len = 32;
    auto r = sutra::model::compare_models(*sutra::model::llama::view(*a),
                                          *sutra::model::llama::view(*b), text, o);
    REQUIRE(r.ok());
    CHECK(r->tokens == 90);
    CHECK(r->mean_kl == 0.0);
    CHECK(r->top1_agreement == 1.0);
    CHECK(r->reference.perplexity == r->candidate.perplexity);
    auto p = sutra::model::evaluate_perplexity(*sutra::model::llama::view(*a), text, o);
    REQUIRE(p.ok());
    CHECK(p->mean_nll == r->reference.mean_nll);

    // A perturbed candidate: KL > 0, and the perplexities are those of each model.
    auto w2 = fx::tiny_weights(cfg);
    for (auto& x : w2.data("model.layers.1.mlp.down_proj.weight"))
        x *= 1.5f;
    auto c = Llama::create(cfg, w2);
    REQUIRE(c.ok());
    auto rc = sutra::model::compare_models(*sutra::model::llama::view(*a),
                                           *sutra::model::llama::view(*c), text, o);
    REQUIRE(rc.ok());
    CHECK(rc->mean_kl > 0.0);
    auto pc = sutra::model::evaluate_perplexity(*sutra::model::llama::view(*c), text, o);
    REQUIRE(pc.ok());
    CHECK(rc->candidate.mean_nll == Approx(pc->mean_nll).epsilon(1e-12));
}

TEST_CASE("evaluate: greedy decoding with the cache equals argmax of full prefills",
          "[model][evaluate]") {
    const auto cfg = fx::tiny_config();
    const auto w = fx::tiny_weights(cfg);
    auto m = Llama::create(cfg, w);
    REQUIRE(m.ok());
    auto ids = sutra::model::greedy_decode(*sutra::model::llama::view(*m), 1, 12);
    REQUIRE(ids.ok());
    REQUIRE(ids->size() == 13);
    CHECK(ids->front() == 1);
    const auto V = static_cast<size_t>(cfg.vocab_size);
    for (size_t n = 1; n < ids->size(); ++n) {
        auto logits = m->forward(std::span<const int32_t>(ids->data(), n));
        REQUIRE(logits.ok());
        const float* row = logits->data() + (n - 1) * V;
        CHECK(static_cast<size_t>(std::max_element(row, row + V) - row) ==
              static_cast<size_t>((*ids)[n]));
    }
}

TEST_CASE("evaluate: stories260K perplexity on tinystories_eval.txt",
          "[model][evaluate][shared][slow]") {
    const auto dir = fx::models_dir() / "stories260K-hf";
    const auto text_file = fx::shared_dir() / "text" / "tinystories_eval.txt";
    REQUIRE(std::filesystem::exists(dir / "model.safetensors"));
    REQUIRE(std::filesystem::exists(text_file));
    auto ckpt = sutra::io::Checkpoint::open(dir);
    REQUIRE(ckpt.ok());
    auto cfg = sutra::model::read_llama_config(dir);
    REQUIRE(cfg.ok());
    auto tok = sutra::model::Tokenizer::load_for_model(dir, cfg->vocab_size);
    REQUIRE(tok.ok());
    sutra::model::CheckpointWeights weights(*ckpt);
    auto m = Llama::create(*cfg, weights, LlamaOptions{.keep_weights = true});
    REQUIRE(m.ok());

    const auto start = std::chrono::steady_clock::now();
    const auto tokens = tok->encode(fx::read_text(text_file), false);
    auto r = sutra::model::evaluate_perplexity(*sutra::model::llama::view(*m), tokens);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    REQUIRE(r.ok());
    WARN("stories260K-hf F32: perplexity " << r->perplexity << " over " << r->tokens << " tokens, "
                                           << r->windows << " windows, " << seconds
                                           << " s (tokenize + evaluate)");
    CHECK(r->perplexity == Approx(4.596).margin(0.005));
    CHECK(r->tokens > 95000);
    CHECK(r->tokens < 103000);
    CHECK(r->windows == (r->tokens + 254) / 255);
}

TEST_CASE("evaluate: stories260K compared with itself and with BF16", "[model][evaluate][shared]") {
    const auto dir = fx::models_dir() / "stories260K-hf";
    const auto bf16_dir = fx::models_dir() / "stories260K-hf-bf16-sharded";
    const auto text_file = fx::shared_dir() / "text" / "tinystories_eval.txt";
    REQUIRE(std::filesystem::exists(dir / "model.safetensors"));
    REQUIRE(std::filesystem::exists(bf16_dir / "model.safetensors.index.json"));
    REQUIRE(std::filesystem::exists(text_file));
    auto ckpt = sutra::io::Checkpoint::open(dir);
    auto ckpt16 = sutra::io::Checkpoint::open(bf16_dir);
    REQUIRE(ckpt.ok());
    REQUIRE(ckpt16.ok());
    auto cfg = sutra::model::read_llama_config(dir);
    REQUIRE(cfg.ok());
    auto tok = sutra::model::Tokenizer::load_for_model(dir, cfg->vocab_size);
    REQUIRE(tok.ok());
    sutra::model::CheckpointWeights w32(*ckpt), w16(*ckpt16);
    auto a = Llama::create(*cfg, w32, LlamaOptions{.keep_weights = true});
    auto b = Llama::create(*cfg, w32, LlamaOptions{.keep_weights = true});
    auto c = Llama::create(*cfg, w16, LlamaOptions{.keep_weights = true});
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    REQUIRE(c.ok());
    const auto tokens = tok->encode(fx::read_text(text_file), false);
    EvalOptions o;
    o.max_tokens = 5000;
    auto self = sutra::model::compare_models(*sutra::model::llama::view(*a),
                                             *sutra::model::llama::view(*b), tokens, o);
    REQUIRE(self.ok());
    CHECK(self->tokens == 5000);
    CHECK(self->mean_kl == 0.0);
    CHECK(self->top1_agreement == 1.0);

    // README reference on the whole file: KL 0.00007, top-1 99.5%.
    auto half = sutra::model::compare_models(*sutra::model::llama::view(*a),
                                             *sutra::model::llama::view(*c), tokens, o);
    REQUIRE(half.ok());
    CHECK(half->mean_kl > 0.0);
    CHECK(half->mean_kl < 0.0005);
    CHECK(half->top1_agreement > 0.98);
    CHECK(half->candidate.perplexity == Approx(half->reference.perplexity).epsilon(0.01));
}
