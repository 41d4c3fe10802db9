#include "sutra/calib/collect.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "support/st_builder.hpp"
#include "unit/model/model_test_support.hpp"

extern "C" void openblas_set_num_threads(int num_threads);
extern "C" int openblas_get_num_threads(void);

using namespace sutra;
using sutra::model::Llama;
namespace fx = sutra::test::model;

namespace {

// Text token ids in [3, vocab): deterministic, no BOS.
std::vector<int32_t> text_tokens(size_t n, int64_t vocab) {
    std::vector<int32_t> v(n);
    uint32_t s = 12345;
    for (auto& t : v) {
        s = s * 1664525u + 1013904223u;
        t = static_cast<int32_t>(3 + (s >> 8) % static_cast<uint32_t>(vocab - 3));
    }
    return v;
}

// Sums of one linear's input, accumulated independently of the library.
struct Sums {
    std::vector<double> abs, sq;
    std::vector<float> max;
    uint64_t rows = 0;
    void add(const float* x, int64_t n, int64_t cols) {
        if (abs.empty()) {
            abs.assign(static_cast<size_t>(cols), 0.0);
            sq.assign(static_cast<size_t>(cols), 0.0);
            max.assign(static_cast<size_t>(cols), 0.0f);
        }
        for (int64_t r = 0; r < n; ++r) {
            for (int64_t c = 0; c < cols; ++c) {
                const float a = std::fabs(x[r * cols + c]);
                abs[static_cast<size_t>(c)] += static_cast<double>(a);
                sq[static_cast<size_t>(c)] += static_cast<double>(a) * static_cast<double>(a);
                max[static_cast<size_t>(c)] = std::max(max[static_cast<size_t>(c)], a);
            }
        }
        rows += static_cast<uint64_t>(n);
    }
};

}  // namespace

TEST_CASE("calib: layer 0 q_proj statistics equal RMSNorm(embedding rows) computed by hand",
          "[calib]") {
    const auto cfg = fx::tiny_config();
    auto w = fx::tiny_weights(cfg);
    auto m = Llama::create(cfg, w);
    REQUIRE(m.ok());
    const auto text = text_tokens(100, cfg.vocab_size);
    auto st = calib::collect_stats(*m, text, 8, 0);  // 100 / 7 = 14 windows of BOS + 7
    SUTRA_REQUIRE_OK(st);
    CHECK(st->windows == 14);
    CHECK(st->seq_len == 8);
    CHECK(st->bos_id == 1);
    CHECK(st->tokens.size() == 14 * 8);
    CHECK(st->linears.size() == 2 * 7 + 1);

    const auto H = static_cast<size_t>(cfg.hidden_size);
    const auto& emb = w.data("model.embed_tokens.weight");
    const auto& g = w.data("model.layers.0.input_layernorm.weight");
    std::vector<double> sum_abs(H, 0.0), sum_sq(H, 0.0), mx(H, 0.0);
    for (int32_t t : st->tokens) {
        const float* e = emb.data() + static_cast<size_t>(t) * H;
        double ss = 0.0;
        for (size_t c = 0; c < H; ++c)
            ss += static_cast<double>(e[c]) * static_cast<double>(e[c]);
        const double inv = 1.0 / std::sqrt(ss / static_cast<double>(H) + cfg.rms_norm_eps);
        for (size_t c = 0; c < H; ++c) {
            const double h = std::fabs(static_cast<double>(e[c]) * inv * static_cast<double>(g[c]));
            sum_abs[c] += h;
            sum_sq[c] += h * h;
            mx[c] = std::max(mx[c], h);
        }
    }
    const auto& q = st->linears.at("model.layers.0.self_attn.q_proj");
    CHECK(q.tokens == 14 * 8);
    REQUIRE(q.mean_abs.size() == H);
    const double n = 14.0 * 8.0;
    for (size_t c = 0; c < H; ++c) {
        CHECK(static_cast<double>(q.mean_abs[c]) == Approx(sum_abs[c] / n).epsilon(1e-5));
        CHECK(static_cast<double>(q.mean_sq[c]) == Approx(sum_sq[c] / n).epsilon(1e-5));
        CHECK(static_cast<double>(q.max_abs[c]) == Approx(mx[c]).epsilon(1e-5));
    }
    // q, k and v share their input; gate and up too.
    CHECK(st->linears.at("model.layers.0.self_attn.k_proj") == q);
    CHECK(st->linears.at("model.layers.0.self_attn.v_proj") == q);
    CHECK(st->linears.at("model.layers.1.mlp.gate_proj") ==
          st->linears.at("model.layers.1.mlp.up_proj"));
}

TEST_CASE("calib: every linear's statistics equal those observed in the model's forward pass",
          "[calib]") {
    for (bool bias : {false, true}) {
        const auto cfg = fx::tiny_config(bias);
        auto w = fx::tiny_weights(cfg, 11);
        auto m = Llama::create(cfg, w);
        REQUIRE(m.ok());
        const auto text = text_tokens(60, cfg.vocab_size);
        calib::CollectOptions o;
        o.seq_len = 10;
        o.max_tokens = 0;
        o.window_batch = 4;
        auto st = calib::collect_stats(*m, text, o);
        SUTRA_REQUIRE_OK(st);
        REQUIRE(st->windows == 6);

        // The reference: each window through Llama::forward, its observer summing every input
        // (lm_head's included, as run_head sees it).
        std::map<std::string, Sums> ref;
        m->set_linear_observer(
            [&](int layer, std::string_view linear, const float* x, int64_t rows, int64_t cols) {
                ref[calib::linear_key(layer, linear)].add(x, rows, cols);
            });
        for (const auto& win : calib::windows_of(*st))
            REQUIRE(m->forward(win).ok());
        m->set_linear_observer(nullptr);

        REQUIRE(ref.size() == st->linears.size());
        for (const auto& [key, s] : st->linears) {
            INFO(key);
            const Sums& r = ref.at(key);
            CHECK(s.tokens == r.rows);
            std::vector<float> mean_abs, mean_sq;
            for (size_t c = 0; c < r.abs.size(); ++c) {
                mean_abs.push_back(static_cast<float>(r.abs[c] / static_cast<double>(r.rows)));
                mean_sq.push_back(static_cast<float>(r.sq[c] / static_cast<double>(r.rows)));
            }
            CHECK(s.mean_abs == mean_abs);
            CHECK(s.mean_sq == mean_sq);
            CHECK(s.max_abs == r.max);
        }
    }
}

TEST_CASE("calib: statistics do not depend on the batch size or the thread count", "[calib]") {
    const auto cfg = fx::tiny_config();
    auto w = fx::tiny_weights(cfg, 3);
    auto m = Llama::create(cfg, w);
    REQUIRE(m.ok());
    const auto text = text_tokens(200, cfg.vocab_size);
    calib::CollectOptions o;
    o.seq_len = 16;
    o.max_tokens = 150;  // 10 windows of 15 text tokens
    o.window_batch = 64;
    auto a = calib::collect_stats(*m, text, o);
    SUTRA_REQUIRE_OK(a);
    CHECK(a->windows == 10);
    o.window_batch = 3;
    const int threads = openblas_get_num_threads();
    openblas_set_num_threads(2);
    auto b = calib::collect_stats(*m, text, o);
    openblas_set_num_threads(threads);
    SUTRA_REQUIRE_OK(b);
    CHECK(*a == *b);
}

TEST_CASE("calib: progress is reported and can stop the collection", "[calib]") {
    const auto cfg = fx::tiny_config();
    auto w = fx::tiny_weights(cfg);
    auto m = Llama::create(cfg, w);
    REQUIRE(m.ok());
    const auto text = text_tokens(40, cfg.vocab_size);
    calib::CollectOptions o;
    o.seq_len = 5;
    o.window_batch = 4;  // 10 windows: 3 batches of (2 blocks + head)
    std::vector<int64_t> seen;
    o.progress = [&](int64_t done, int64_t total) {
        CHECK(total == 9);
        seen.push_back(done);
        return done < 4;
    };
    SUTRA_REQUIRE_ERROR(calib::collect_stats(*m, text, o), Errc::interrupted, "4 of 9");
    CHECK(seen == std::vector<int64_t>{1, 2, 3, 4});
}

TEST_CASE("calib: collection errors name the problem", "[calib]") {
    const auto cfg = fx::tiny_config();
    auto w = fx::tiny_weights(cfg);
    auto m = Llama::create(cfg, w);
    REQUIRE(m.ok());
    auto text = text_tokens(20, cfg.vocab_size);
    SUTRA_REQUIRE_ERROR(calib::collect_stats(*m, text, 64, 0), Errc::invalid_argument, "one window",
                        "--seq-len");
    text[9] = 40;  // window 1 (BOS + text 7..13), position 3
    SUTRA_REQUIRE_ERROR(calib::collect_stats(*m, text, 8, 0), Errc::invalid_argument,
                        "token 3 of window 1", "id 40", "vocab_size 40");

    // A non-finite weight makes the activations non-finite: refused, naming the linear.
    text[9] = 5;
    w.data("model.layers.1.post_attention_layernorm.weight")[2] = INFINITY;
    SUTRA_REQUIRE_ERROR(calib::collect_stats(*m, text, 8, 0), Errc::bad_format,
                        "model.layers.1.mlp.gate_proj", "not finite");
}
