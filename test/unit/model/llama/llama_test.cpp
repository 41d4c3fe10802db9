#include "sutra/model/llama/llama.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "sutra/io/checkpoint.hpp"
#include "sutra/model/evaluate.hpp"
#include "sutra/model/llama/llama.hpp"
#include "sutra/model/llama/llama_family.hpp"
#include "sutra/model/tokenizer.hpp"
#include "unit/model/model_test_support.hpp"

extern "C" void openblas_set_num_threads(int num_threads);
extern "C" int openblas_get_num_threads(void);

using sutra::Errc;
using sutra::model::Activations;
using sutra::model::KvCache;
using sutra::model::Llama;
using sutra::model::LlamaOptions;
namespace fx = sutra::test::model;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    float m = 0.0f;
    for (size_t i = 0; i < a.size(); ++i)
        m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

const std::vector<int32_t> kPrompt = {1, 7, 3, 39, 12, 12, 0, 25, 8, 2, 17, 30};

}  // namespace

TEST_CASE("llama: KV-cache continuation matches a full prefill", "[model][llama]") {
    for (bool bias : {false, true}) {
        const auto cfg = fx::tiny_config(bias);
        const auto w = fx::tiny_weights(cfg);
        auto m = Llama::create(cfg, w);
        REQUIRE(m.ok());
        auto full = m->forward(kPrompt);
        REQUIRE(full.ok());
        const auto V = static_cast<size_t>(cfg.vocab_size);
        REQUIRE(full->size() == kPrompt.size() * V);

        KvCache cache;
        std::vector<float> pieces;
        const std::vector<size_t> cuts = {0, 5, 6, 11, kPrompt.size()};
        for (size_t c = 0; c + 1 < cuts.size(); ++c) {
            std::span<const int32_t> part(kPrompt.data() + cuts[c], cuts[c + 1] - cuts[c]);
            auto l = m->forward(part, &cache);
            REQUIRE(l.ok());
            pieces.insert(pieces.end(), l->begin(), l->end());
        }
        CHECK(cache.length() == static_cast<int64_t>(kPrompt.size()));
        CHECK(max_abs_diff(*full, pieces) < 1e-5f);

        // A later window is not the beginning of a sequence: position matters.
        auto shifted = m->forward(std::span<const int32_t>(kPrompt.data() + 5, 3));
        REQUIRE(shifted.ok());
        std::vector<float> same(full->begin() + 5 * static_cast<std::ptrdiff_t>(V),
                                full->begin() + 8 * static_cast<std::ptrdiff_t>(V));
        CHECK(max_abs_diff(*shifted, same) > 1e-3f);
    }
}

TEST_CASE("llama: block-by-block streaming equals kept weights", "[model][llama]") {
    const auto cfg = fx::tiny_config();
    const auto w = fx::tiny_weights(cfg);
    auto streamed = Llama::create(cfg, w);
    auto kept = Llama::create(cfg, w, LlamaOptions{.keep_weights = true});
    REQUIRE(streamed.ok());
    REQUIRE(kept.ok());
    auto a = streamed->forward(kPrompt);
    const int64_t loads_after_one = w.loads;
    auto b = kept->forward(kPrompt);
    auto c = kept->forward(kPrompt);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    REQUIRE(c.ok());
    CHECK(*a == *b);
    CHECK(*b == *c);
    // Streaming reloads every tensor; kept weights are loaded once.
    const int64_t kept_loads = w.loads - loads_after_one;
    auto d = streamed->forward(kPrompt);
    REQUIRE(d.ok());
    CHECK(w.loads - loads_after_one - kept_loads == loads_after_one);

    // The step API by hand gives the same logits.
    Activations x;
    REQUIRE(streamed->embed(kPrompt, 0, x).ok());
    for (int l = 0; l < cfg.num_hidden_layers; ++l)
        REQUIRE(streamed->run_block(l, x).ok());
    std::vector<float> logits;
    REQUIRE(streamed->head(x, logits).ok());
    CHECK(logits == *a);
}

TEST_CASE("llama: the observer sees the input of every linear", "[model][llama]") {
    const auto cfg = fx::tiny_config();
    const auto w = fx::tiny_weights(cfg);
    auto m = Llama::create(cfg, w);
    REQUIRE(m.ok());
    std::map<std::pair<int, std::string>, std::pair<int64_t, int64_t>> seen;
    std::vector<float> q_input;
    m->set_linear_observer(
        [&](int layer, std::string_view name, const float* x, int64_t rows, int64_t cols) {
            seen[{layer, std::string(name)}] = {rows, cols};
            if (layer == 0 && name == "self_attn.q_proj") {
                q_input.assign(x, x + rows * cols);
            }
        });
    REQUIRE(m->forward(kPrompt).ok());
    const auto T = static_cast<int64_t>(kPrompt.size());
    CHECK(seen.size() == 7 * 2 + 1);
    for (int l = 0; l < 2; ++l) {
        CHECK(seen[{l, "self_attn.q_proj"}] == std::make_pair(T, cfg.hidden_size));
        CHECK(seen[{l, "self_attn.k_proj"}] == std::make_pair(T, cfg.hidden_size));
        CHECK(seen[{l, "self_attn.v_proj"}] == std::make_pair(T, cfg.hidden_size));
        CHECK(seen[{l, "self_attn.o_proj"}] == std::make_pair(T, cfg.q_width()));
        CHECK(seen[{l, "mlp.gate_proj"}] == std::make_pair(T, cfg.hidden_size));
        CHECK(seen[{l, "mlp.up_proj"}] == std::make_pair(T, cfg.hidden_size));
        CHECK(seen[{l, "mlp.down_proj"}] == std::make_pair(T, cfg.intermediate_size));
    }
    CHECK(seen[{-1, "lm_head"}] == std::make_pair(T, cfg.hidden_size));
    // Layer 0's q_proj input is rmsnorm(embedding rows) * input_layernorm.weight.
    const auto H = static_cast<size_t>(cfg.hidden_size);
    REQUIRE(q_input.size() == static_cast<size_t>(T) * H);
    auto emb = w.load("model.embed_tokens.weight");
    auto norm = w.load("model.layers.0.input_layernorm.weight");
    REQUIRE(emb.ok());
    REQUIRE(norm.ok());
    float worst = 0.0f;
    for (size_t t = 0; t < kPrompt.size(); ++t) {
        const float* e = emb->data() + static_cast<size_t>(kPrompt[t]) * H;
        double ss = 0.0;
        for (size_t i = 0; i < H; ++i)
            ss += static_cast<double>(e[i]) * static_cast<double>(e[i]);
        const double inv = 1.0 / std::sqrt(ss / static_cast<double>(H) + cfg.rms_norm_eps);
        for (size_t i = 0; i < H; ++i) {
            const double want = static_cast<double>(e[i]) * inv * static_cast<double>((*norm)[i]);
            worst = std::max(worst, static_cast<float>(
                                        std::fabs(want - static_cast<double>(q_input[t * H + i]))));
        }
    }
    CHECK(worst < 1e-5f);
}

TEST_CASE("llama: tie_word_embeddings decides the head; an untied model needs lm_head.weight",
          "[model][llama]") {
    auto cfg = fx::tiny_config();
    cfg.tie_word_embeddings = true;
    const auto tied = fx::tiny_weights(cfg);
    REQUIRE_FALSE(tied.has("lm_head.weight"));
    auto untied_cfg = fx::tiny_config();
    auto untied = fx::tiny_weights(untied_cfg);
    untied.data("lm_head.weight") = untied.data("model.embed_tokens.weight");
    // Tied with a (different) lm_head.weight in the file: the embedding is the head, as in
    // transformers, which ties lm_head to it.
    auto tied_with_head = fx::tiny_weights(untied_cfg);
    for (bool keep : {false, true}) {
        auto a = Llama::create(cfg, tied, LlamaOptions{.keep_weights = keep});
        auto b = Llama::create(untied_cfg, untied, LlamaOptions{.keep_weights = keep});
        auto c = Llama::create(cfg, tied_with_head, LlamaOptions{.keep_weights = keep});
        auto d = Llama::create(untied_cfg, tied_with_head, LlamaOptions{.keep_weights = keep});
        REQUIRE(a.ok());
        REQUIRE(b.ok());
        REQUIRE(c.ok());
        REQUIRE(d.ok());
        auto la = a->forward(kPrompt);
        auto lb = b->forward(kPrompt);
        auto lc = c->forward(kPrompt);
        auto ld = d->forward(kPrompt);
        REQUIRE(la.ok());
        REQUIRE(lb.ok());
        REQUIRE(lc.ok());
        REQUIRE(ld.ok());
        CHECK(*la == *lb);
        CHECK(*lc == *la);
        CHECK(max_abs_diff(*ld, *lc) > 1e-3f);  // untied: its own lm_head
    }
    auto missing = fx::tiny_weights(untied_cfg);
    missing.erase("lm_head.weight");
    auto r = Llama::create(untied_cfg, missing);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::not_found);
    CHECK(contains(r.error().message, "lm_head.weight"));
    CHECK(contains(r.error().message, "tie_word_embeddings"));
}

TEST_CASE("llama: attention biases change the output; missing ones are an error",
          "[model][llama]") {
    auto cfg = fx::tiny_config(true);
    auto w = fx::tiny_weights(cfg);
    auto with = Llama::create(cfg, w);
    REQUIRE(with.ok());
    auto l1 = with->forward(kPrompt);
    REQUIRE(l1.ok());
    for (int l = 0; l < cfg.num_hidden_layers; ++l) {
        for (const char* p : {"q", "k", "v"}) {
            auto& b = w.data(Llama::layer_tensor(l, std::string("self_attn.") + p + "_proj.bias"));
            std::fill(b.begin(), b.end(), 0.0f);
        }
    }
    auto l0 = with->forward(kPrompt);
    REQUIRE(l0.ok());
    CHECK(max_abs_diff(*l0, *l1) > 1e-3f);

    // Zero biases equal no biases at all.
    auto nob = w;
    for (int l = 0; l < cfg.num_hidden_layers; ++l) {
        for (const char* p : {"q", "k", "v"}) {
            nob.erase(Llama::layer_tensor(l, std::string("self_attn.") + p + "_proj.bias"));
        }
    }
    auto cfg_nob = cfg;
    cfg_nob.attention_bias = false;
    auto plain = Llama::create(cfg_nob, nob);
    REQUIRE(plain.ok());
    auto lp = plain->forward(kPrompt);
    REQUIRE(lp.ok());
    CHECK(max_abs_diff(*lp, *l0) < 1e-6f);

    auto missing = Llama::create(cfg, nob);
    REQUIRE_FALSE(missing.ok());
    CHECK(contains(missing.error().message, "model.layers.0.self_attn.q_proj.bias"));

    // Biases the config does not imply are refused rather than guessed at.
    auto stray = Llama::create(cfg_nob, w);
    REQUIRE_FALSE(stray.ok());
    CHECK(stray.error().code == Errc::bad_format);
    CHECK(contains(stray.error().message, "model.layers.0.self_attn.q_proj.bias"));
    auto with_o = nob;
    with_o.put(Llama::layer_tensor(1, "self_attn.o_proj.bias"),
               {static_cast<uint64_t>(cfg.hidden_size)},
               std::vector<float>(static_cast<size_t>(cfg.hidden_size), 0.5f));
    auto stray_o = Llama::create(cfg_nob, with_o);
    REQUIRE_FALSE(stray_o.ok());
    CHECK(contains(stray_o.error().message, "model.layers.1.self_attn.o_proj.bias"));
}

TEST_CASE("llama: tensors that do not fit the config are named", "[model][llama]") {
    const auto cfg = fx::tiny_config();
    auto w = fx::tiny_weights(cfg);
    w.erase("model.layers.1.mlp.up_proj.weight");
    auto r = Llama::create(cfg, w);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::not_found);
    CHECK(contains(r.error().message, "model.layers.1.mlp.up_proj.weight"));

    auto w2 = fx::tiny_weights(cfg);
    w2.put("model.layers.0.self_attn.k_proj.weight", {16, 16}, std::vector<float>(256));
    auto r2 = Llama::create(cfg, w2);
    REQUIRE_FALSE(r2.ok());
    CHECK(r2.error().code == Errc::bad_format);
    CHECK(contains(r2.error().message, "model.layers.0.self_attn.k_proj.weight"));
    CHECK(contains(r2.error().message, "[16, 16]"));
    CHECK(contains(r2.error().message, "[8, 16]"));

    const auto good = fx::tiny_weights(cfg);
    auto m = Llama::create(cfg, good);
    REQUIRE(m.ok());
    // Caller-made block weights of the wrong size are refused, not read out of bounds.
    auto block = m->block_weights(1);
    REQUIRE(block.ok());
    sutra::model::BlockWeights edited = **block;
    edited.down.pop_back();
    Activations x;
    REQUIRE(m->embed(kPrompt, 0, x).ok());
    auto refused = m->run_block(edited, x);
    REQUIRE_FALSE(refused.ok());
    CHECK(contains(refused.error().message, "down_proj"));
    edited = **block;
    edited.q_bias.assign(3, 0.0f);
    CHECK_FALSE(m->run_block(edited, x).ok());
    edited.q_bias.assign(static_cast<size_t>(cfg.q_width()), 0.0f);  // a zero bias is fine
    CHECK(m->run_block(edited, x).ok());

    auto bad = m->forward(std::vector<int32_t>{1, 40});
    REQUIRE_FALSE(bad.ok());
    CHECK(contains(bad.error().message, "40"));
    CHECK_FALSE(m->forward(std::vector<int32_t>{}).ok());
}

TEST_CASE("llama: results do not depend on the OpenBLAS thread count", "[model][llama]") {
    auto cfg = fx::tiny_config();
    cfg.hidden_size = 256;
    cfg.intermediate_size = 688;
    cfg.num_attention_heads = 8;
    cfg.num_key_value_heads = 2;
    cfg.head_dim = 32;
    cfg.vocab_size = 300;
    const auto w = fx::tiny_weights(cfg);
    auto m = Llama::create(cfg, w, LlamaOptions{.keep_weights = true});
    REQUIRE(m.ok());
    std::vector<int32_t> tokens(200);
    for (size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = static_cast<int32_t>((i * 37) % 300);
    const int before = openblas_get_num_threads();
    openblas_set_num_threads(1);
    auto one = m->forward(tokens);
    openblas_set_num_threads(4);
    auto four = m->forward(tokens);
    openblas_set_num_threads(before);
    REQUIRE(one.ok());
    REQUIRE(four.ok());
    CHECK(*one == *four);
}

TEST_CASE("llama: stories260K greedy decoding reproduces the golden output",
          "[model][llama][shared]") {
    const auto dir = fx::models_dir() / "stories260K-hf";
    const auto golden_file = fx::models_dir() / "stories260K" / "golden_greedy_256.txt";
    REQUIRE(std::filesystem::exists(dir / "model.safetensors"));
    REQUIRE(std::filesystem::exists(golden_file));
    const auto golden = fx::read_golden(golden_file);
    REQUIRE(golden.ids.size() == 257);

    auto ckpt = sutra::io::Checkpoint::open(dir);
    REQUIRE(ckpt.ok());
    auto cfg = sutra::model::read_llama_config(ckpt->model_dir());
    REQUIRE(cfg.ok());
    sutra::model::CheckpointWeights weights(*ckpt);
    auto m = Llama::create(*cfg, weights, LlamaOptions{.keep_weights = true});
    REQUIRE(m.ok());
    auto ids = sutra::model::greedy_decode(*sutra::model::llama::view(*m), 1, 256);
    REQUIRE(ids.ok());
    CHECK(*ids == golden.ids);

    auto tok = sutra::model::Tokenizer::load_for_model(ckpt->model_dir(), cfg->vocab_size);
    REQUIRE(tok.ok());
    CHECK(tok->decode(*ids) == golden.text);

    // Streaming weights from the checkpoint gives the same logits as kept weights.
    auto streamed = Llama::create(*cfg, weights);
    REQUIRE(streamed.ok());
    const std::span<const int32_t> prefix(golden.ids.data(), 64);
    auto a = streamed->forward(prefix);
    auto b = m->forward(prefix);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(*a == *b);
}

TEST_CASE("llama: sharded BF16 stories260K matches the first 48 greedy tokens",
          "[model][llama][shared]") {
    const auto dir = fx::models_dir() / "stories260K-hf-bf16-sharded";
    REQUIRE(std::filesystem::exists(dir / "model.safetensors.index.json"));
    const auto golden = fx::read_golden(fx::models_dir() / "stories260K" / "golden_greedy_256.txt");
    REQUIRE(golden.ids.size() == 257);
    auto ckpt = sutra::io::Checkpoint::open(dir);
    REQUIRE(ckpt.ok());
    auto cfg = sutra::model::read_llama_config(dir);
    REQUIRE(cfg.ok());
    sutra::model::CheckpointWeights weights(*ckpt);
    auto m = Llama::create(*cfg, weights, LlamaOptions{.keep_weights = true});
    REQUIRE(m.ok());
    auto ids = sutra::model::greedy_decode(*sutra::model::llama::view(*m), 1, 48);
    REQUIRE(ids.ok());
    CHECK(*ids == std::vector<int32_t>(golden.ids.begin(), golden.ids.begin() + 49));
}

namespace {

// The forward pass written out plainly in double precision, one position at a time, as an
// oracle: RMSNorm, rotate_half RoPE, grouped-query causal attention (optionally windowed),
// q/k/v(/o) biases, per-head q/k RMSNorm (qwen3), SwiGLU, final norm, lm_head.
std::vector<double> oracle_logits(const sutra::model::LlamaConfig& c, const fx::MapWeights& w,
                                  const std::vector<int32_t>& tokens) {
    auto get = [&](const std::string& n) {
        auto r = w.load(n);
        REQUIRE(r.ok());
        return std::vector<double>(r->begin(), r->end());
    };
    const auto H = static_cast<size_t>(c.hidden_size);
    const auto I = static_cast<size_t>(c.intermediate_size);
    const auto d = static_cast<size_t>(c.head_dim);
    const auto nh = static_cast<size_t>(c.num_attention_heads);
    const auto nkv = static_cast<size_t>(c.num_key_value_heads);
    const auto V = static_cast<size_t>(c.vocab_size);
    const size_t T = tokens.size();
    auto matvec = [](const std::vector<double>& m, const std::vector<double>& x, size_t out) {
        std::vector<double> y(out, 0.0);
        for (size_t o = 0; o < out; ++o) {
            for (size_t i = 0; i < x.size(); ++i)
                y[o] += m[o * x.size() + i] * x[i];
        }
        return y;
    };
    auto norm = [&](const std::vector<double>& x, const std::vector<double>& g) {
        double ss = 0.0;
        for (double v : x)
            ss += v * v;
        const double inv = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + c.rms_norm_eps);
        std::vector<double> y(x.size());
        for (size_t i = 0; i < x.size(); ++i)
            y[i] = x[i] * inv * g[i];
        return y;
    };
    auto rope = [&](std::vector<double>& v, size_t heads, size_t pos) {
        for (size_t h = 0; h < heads; ++h) {
            for (size_t i = 0; i < d / 2; ++i) {
                const double f =
                    std::pow(c.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(d));
                const double a = static_cast<double>(pos) * f;
                const double x0 = v[h * d + i], x1 = v[h * d + i + d / 2];
                v[h * d + i] = x0 * std::cos(a) - x1 * std::sin(a);
                v[h * d + i + d / 2] = x1 * std::cos(a) + x0 * std::sin(a);
            }
        }
    };
    const auto emb = get("model.embed_tokens.weight");
    std::vector<std::vector<double>> x(T);
    for (size_t t = 0; t < T; ++t) {
        x[t].assign(emb.begin() + static_cast<std::ptrdiff_t>(tokens[t] * H),
                    emb.begin() + static_cast<std::ptrdiff_t>((tokens[t] + 1) * H));
    }
    for (int l = 0; l < c.num_hidden_layers; ++l) {
        auto L = [&](const std::string& s) { return get(Llama::layer_tensor(l, s)); };
        const auto wq = L("self_attn.q_proj.weight"), wk = L("self_attn.k_proj.weight"),
                   wv = L("self_attn.v_proj.weight"), wo = L("self_attn.o_proj.weight");
        const auto wg = L("mlp.gate_proj.weight"), wu = L("mlp.up_proj.weight"),
                   wd = L("mlp.down_proj.weight");
        const auto n1 = L("input_layernorm.weight"), n2 = L("post_attention_layernorm.weight");
        std::vector<std::vector<double>> q(T), k(T), v(T);
        for (size_t t = 0; t < T; ++t) {
            const auto h = norm(x[t], n1);
            q[t] = matvec(wq, h, nh * d);
            k[t] = matvec(wk, h, nkv * d);
            v[t] = matvec(wv, h, nkv * d);
            if (c.attention_bias) {
                const auto bq = L("self_attn.q_proj.bias"), bk = L("self_attn.k_proj.bias"),
                           bv = L("self_attn.v_proj.bias");
                for (size_t i = 0; i < q[t].size(); ++i)
                    q[t][i] += bq[i];
                for (size_t i = 0; i < k[t].size(); ++i)
                    k[t][i] += bk[i];
                for (size_t i = 0; i < v[t].size(); ++i)
                    v[t][i] += bv[i];
            }
            if (c.qk_norm) {
                const auto gq = L("self_attn.q_norm.weight"), gk = L("self_attn.k_norm.weight");
                auto per_head = [&](std::vector<double>& u, size_t heads,
                                    const std::vector<double>& g) {
                    for (size_t hh = 0; hh < heads; ++hh) {
                        std::vector<double> part(
                            u.begin() + static_cast<std::ptrdiff_t>(hh * d),
                            u.begin() + static_cast<std::ptrdiff_t>((hh + 1) * d));
                        part = norm(part, g);
                        std::copy(part.begin(), part.end(),
                                  u.begin() + static_cast<std::ptrdiff_t>(hh * d));
                    }
                };
                per_head(q[t], nh, gq);
                per_head(k[t], nkv, gk);
            }
            rope(q[t], nh, t);
            rope(k[t], nkv, t);
        }
        for (size_t t = 0; t < T; ++t) {
            std::vector<double> att(nh * d, 0.0);
            for (size_t h = 0; h < nh; ++h) {
                const size_t g = h / (nh / nkv);
                const size_t first =
                    c.sliding_window > 0 && t + 1 > static_cast<size_t>(c.sliding_window)
                        ? t + 1 - static_cast<size_t>(c.sliding_window)
                        : 0;
                std::vector<double> s;
                double mx = -1e300;
                for (size_t j = first; j <= t; ++j) {
                    double dot = 0.0;
                    for (size_t i = 0; i < d; ++i)
                        dot += q[t][h * d + i] * k[j][g * d + i];
                    s.push_back(dot / std::sqrt(static_cast<double>(d)));
                    mx = std::max(mx, s.back());
                }
                double z = 0.0;
                for (double& e : s)
                    z += (e = std::exp(e - mx));
                for (size_t j = first; j <= t; ++j) {
                    for (size_t i = 0; i < d; ++i) {
                        att[h * d + i] += s[j - first] / z * v[j][g * d + i];
                    }
                }
            }
            auto o = matvec(wo, att, H);
            if (c.o_bias) {
                const auto bo = L("self_attn.o_proj.bias");
                for (size_t i = 0; i < H; ++i)
                    o[i] += bo[i];
            }
            for (size_t i = 0; i < H; ++i)
                x[t][i] += o[i];
            const auto h2 = norm(x[t], n2);
            auto gt = matvec(wg, h2, I);
            const auto up = matvec(wu, h2, I);
            for (size_t i = 0; i < I; ++i)
                gt[i] = gt[i] / (1.0 + std::exp(-gt[i])) * up[i];
            const auto dn = matvec(wd, gt, H);
            for (size_t i = 0; i < H; ++i)
                x[t][i] += dn[i];
        }
    }
    const auto fn = get("model.norm.weight");
    const auto head = get("lm_head.weight");
    std::vector<double> logits;
    for (size_t t = 0; t < T; ++t) {
        const auto y = matvec(head, norm(x[t], fn), V);
        logits.insert(logits.end(), y.begin(), y.end());
    }
    return logits;
}

}  // namespace

TEST_CASE("llama: forward pass matches a plain double-precision oracle", "[model][llama]") {
    struct Case {
        bool bias;
        int64_t window;
        bool qwen3;  // q/k norms, head_dim 8 (hidden / heads is 4), q/k/v/o biases if `bias`
    };
    for (const Case k : {Case{false, 0, false}, Case{true, 0, false}, Case{false, 4, false},
                         Case{true, 5, false}, Case{false, 0, true}, Case{true, 0, true}}) {
        auto cfg = fx::tiny_config(k.bias);
        cfg.sliding_window = k.window;
        if (k.qwen3) {
            cfg.model_type = "qwen3";
            cfg.qk_norm = true;
            cfg.head_dim = 8;
            cfg.o_bias = k.bias;
        }
        const auto w = fx::tiny_weights(cfg, 11);
        auto m = Llama::create(cfg, w);
        REQUIRE(m.ok());
        auto got = m->forward(kPrompt);
        REQUIRE(got.ok());
        const auto want = oracle_logits(cfg, w, kPrompt);
        REQUIRE(got->size() == want.size());
        double worst = 0.0;
        for (size_t i = 0; i < want.size(); ++i) {
            worst = std::max(worst, std::fabs(want[i] - static_cast<double>((*got)[i])));
        }
        INFO("bias " << k.bias << ", window " << k.window << ", qwen3 " << k.qwen3
                     << ": max |error| " << worst);
        CHECK(worst < 2e-4);

        // Windowed attention with a KV cache: token by token equals the prefill.
        KvCache cache;
        std::vector<float> steps;
        for (int32_t t : kPrompt) {
            auto l = m->forward(std::span<const int32_t>(&t, 1), &cache);
            REQUIRE(l.ok());
            steps.insert(steps.end(), l->begin(), l->end());
        }
        CHECK(max_abs_diff(steps, *got) < 1e-4f);
    }
}

TEST_CASE("weights: gathering rows", "[model][weights]") {
    const auto cfg = fx::tiny_config();
    const auto w = fx::tiny_weights(cfg);
    const std::vector<uint64_t> rows = {3, 0, 3, 39};
    auto got = w.load_rows("model.embed_tokens.weight", rows);  // the default implementation
    REQUIRE(got.ok());
    auto all = w.load("model.embed_tokens.weight");
    REQUIRE(all.ok());
    const size_t H = 16;
    REQUIRE(got->size() == rows.size() * H);
    for (size_t i = 0; i < rows.size(); ++i) {
        for (size_t j = 0; j < H; ++j)
            CHECK((*got)[i * H + j] == (*all)[rows[i] * H + j]);
    }
    const std::vector<uint64_t> past = {40};
    auto bad = w.load_rows("model.embed_tokens.weight", past);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Errc::invalid_argument);
    CHECK_FALSE(w.load_rows("nope", rows).ok());
}

TEST_CASE("weights: checkpoint rows and shapes", "[model][weights][shared]") {
    for (const char* name : {"stories260K-hf", "stories260K-hf-bf16-sharded"}) {
        const auto dir = fx::models_dir() / name;
        REQUIRE(std::filesystem::exists(dir / "config.json"));
        auto ckpt = sutra::io::Checkpoint::open(dir);
        REQUIRE(ckpt.ok());
        sutra::model::CheckpointWeights w(*ckpt);
        CHECK(w.has("model.norm.weight"));
        CHECK_FALSE(w.has("lm_head.weight"));
        auto shape = w.shape("model.layers.4.mlp.down_proj.weight");
        REQUIRE(shape.ok());
        CHECK(*shape == std::vector<uint64_t>{64, 172});
        auto all = w.load("model.embed_tokens.weight");
        REQUIRE(all.ok());
        CHECK(all->size() == 512 * 64);
        const std::vector<uint64_t> rows = {511, 1, 1};
        auto got = w.load_rows("model.embed_tokens.weight", rows);
        REQUIRE(got.ok());
        REQUIRE(got->size() == 3 * 64);
        for (size_t i = 0; i < rows.size(); ++i) {
            for (size_t j = 0; j < 64; ++j)
                CHECK((*got)[i * 64 + j] == (*all)[rows[i] * 64 + j]);
        }
        auto missing = w.load("model.layers.9.mlp.up_proj.weight");
        REQUIRE_FALSE(missing.ok());
        CHECK(missing.error().code == Errc::not_found);
        CHECK(contains(missing.error().message, "model.layers.9.mlp.up_proj.weight"));
    }
}
