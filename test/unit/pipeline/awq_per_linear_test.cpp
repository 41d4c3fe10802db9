// AWQ without activations (the per-linear loss an imatrix allows): the weighted error and its
// diagonal approximation of a linear's output error, the weighted clipping search, and the
// block search: the same transform as the module-output search for a forced alpha, sensible
// alphas from the statistics, independent of the thread count.
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "sutra/model/llama/llama.hpp"
#include "sutra/pipeline/awq_block.hpp"
#include "sutra/quant/awq.hpp"
#include "unit/model/model_test_support.hpp"

using namespace sutra;
namespace tmodel = sutra::test::model;

namespace {

pipeline::BlockQuant tiny_block_quant(const model::LlamaConfig& c, uint32_t group) {
    pipeline::BlockQuant bq;
    const int64_t H = c.hidden_size, QW = c.q_width(), KV = c.kv_width(), I = c.intermediate_size;
    const int64_t shapes[7][2] = {{QW, H}, {KV, H}, {KV, H}, {H, QW}, {I, H}, {I, H}, {H, I}};
    for (size_t k = 0; k < 7; ++k) {
        bq.quantize[k] = true;
        bq.layout[k] = quant::make_layout(static_cast<uint64_t>(shapes[k][0]),
                                          static_cast<uint64_t>(shapes[k][1]), 4, group);
    }
    return bq;
}

// Mean x^2 per input (q, o, gate, down): 1 everywhere, `hot` on every `every`-th channel.
std::array<std::vector<float>, 4> stats(const model::LlamaConfig& c, float hot, size_t every) {
    const size_t widths[4] = {static_cast<size_t>(c.hidden_size), static_cast<size_t>(c.q_width()),
                              static_cast<size_t>(c.hidden_size),
                              static_cast<size_t>(c.intermediate_size)};
    std::array<std::vector<float>, 4> s;
    for (size_t k = 0; k < 4; ++k) {
        s[k].assign(widths[k], 1.0f);
        for (size_t j = 0; j < widths[k]; j += every)
            s[k][j] = hot;
    }
    return s;
}

std::array<std::vector<float>, 4> sqrt_of(const std::array<std::vector<float>, 4>& s) {
    auto r = s;
    for (auto& v : r)
        for (auto& x : v)
            x = std::sqrt(x);
    return r;
}

}  // namespace

TEST_CASE("per-linear loss: weighted error, and the diagonal of E[x x^T] it stands for",
          "[imatrix][awq]") {
    // 2 x 3: rows (1, 2, 3) and (0, 0, 1) against zeros, weights (1, 10, 100).
    const std::vector<float> a = {1, 2, 3, 0, 0, 1}, zero(6, 0.0f), w = {1, 10, 100};
    CHECK(quant::weighted_sq_error(a, zero, 3, w) == Approx(1 + 40 + 900 + 100));

    // For inputs with independent zero-mean channels, E||(A - B) x||^2 = sum_j E[x_j^2] *
    // sum_i (A_ij - B_ij)^2: the cross terms vanish.
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const size_t rows = 6, cols = 16, T = 40000;
    std::vector<float> A(rows * cols), B(rows * cols), scale(cols), msq(cols, 0.0f);
    for (auto& x : A)
        x = nd(rng);
    for (auto& x : B)
        x = nd(rng);
    for (size_t j = 0; j < cols; ++j)
        scale[j] = 0.2f + 0.4f * static_cast<float>(j);
    double direct = 0;
    std::vector<double> acc(cols, 0.0);
    for (size_t t = 0; t < T; ++t) {
        std::vector<float> x(cols);
        for (size_t j = 0; j < cols; ++j) {
            x[j] = scale[j] * nd(rng);
            acc[j] += static_cast<double>(x[j]) * static_cast<double>(x[j]);
        }
        for (size_t r = 0; r < rows; ++r) {
            double y = 0;
            for (size_t j = 0; j < cols; ++j)
                y += static_cast<double>(A[r * cols + j] - B[r * cols + j]) *
                     static_cast<double>(x[j]);
            direct += y * y;
        }
    }
    for (size_t j = 0; j < cols; ++j)
        msq[j] = static_cast<float>(acc[j] / static_cast<double>(T));
    const double diag = quant::weighted_sq_error(A, B, cols, msq);
    INFO("direct " << direct / static_cast<double>(T) << ", diagonal " << diag);
    CHECK(diag == Approx(direct / static_cast<double>(T)).epsilon(0.05));
}

TEST_CASE("per-linear loss: the weighted clipping search never does worse than no clipping",
          "[imatrix][awq]") {
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const uint64_t rows = 12, cols = 64;
    std::vector<float> w(rows * cols);
    for (auto& x : w)
        x = nd(rng);
    w[5] = 9.0f;  // an outlier that clipping can trade against the rest of its group
    std::vector<float> d(cols);
    for (uint64_t j = 0; j < cols; ++j)
        d[j] = j == 5 ? 0.01f : 1.0f + static_cast<float>(j % 3);
    const auto l = quant::make_layout(rows, cols, 4, 32);
    quant::ClipOptions opt;
    const auto bounds = quant::search_clip_weighted(w, l, d, opt, 1);
    REQUIRE(bounds.size() == rows * l.n_groups);
    CHECK(bounds == quant::search_clip_weighted(w, l, d, opt, 3));
    auto clipped = w;
    quant::apply_clip(clipped, l, bounds);
    const double err_clip = quant::weighted_sq_error(quant::fake_quantize(clipped, l), w, cols, d);
    const double err_plain = quant::weighted_sq_error(quant::fake_quantize(w, l), w, cols, d);
    INFO("clipped " << err_clip << ", plain " << err_plain);
    CHECK(err_clip <= err_plain);
    // The outlier's group, whose outlier hardly matters (weight 0.01), is clipped.
    CHECK(bounds[0] < 9.0f);
}

TEST_CASE(
    "per-linear AWQ on a block: the module search's transform for a forced alpha, and "
    "alphas that follow the statistics",
    "[imatrix][awq]") {
    const auto c = tmodel::tiny_config();
    auto weights = tmodel::tiny_weights(c);
    auto m = model::Llama::create(c, weights);
    REQUIRE(m.ok());
    auto fp = m->block_weights(0);
    REQUIRE(fp.ok());
    const auto bq = tiny_block_quant(c, 8);
    const auto x_sq = stats(c, 50.0f, 5);
    const auto x_mean = sqrt_of(x_sq);

    // A forced alpha without clipping: both searches scale and fold identically (the scales
    // depend only on the statistics and alpha).
    pipeline::AwqOptions forced;
    forced.alpha = 0.5f;
    forced.clip = false;
    auto pl = pipeline::awq_block_per_linear(c, **fp, x_mean, x_sq, bq, forced);
    REQUIRE(pl.ok());
    std::vector<model::Activations> xs(1);
    std::vector<int32_t> ids;
    for (int i = 0; i < 12; ++i)
        ids.push_back((i * 7 + 3) % 40);
    REQUIRE(m->embed(ids, 0, xs[0]).ok());
    auto mo = pipeline::awq_block(*m, **fp, xs, x_mean, bq, forced);
    REQUIRE(mo.ok());
    CHECK(pl->weights.q == mo->weights.q);
    CHECK(pl->weights.v == mo->weights.v);
    CHECK(pl->weights.input_norm == mo->weights.input_norm);
    CHECK(pl->weights.gate == mo->weights.gate);
    CHECK(pl->weights.post_norm == mo->weights.post_norm);
    CHECK(pl->weights.up == mo->weights.up);
    CHECK(pl->weights.down == mo->weights.down);
    // The per-linear path refuses nothing the module path accepts, and vice versa the module
    // path is not asked for the per-linear loss.
    pipeline::AwqOptions wrong = forced;
    wrong.loss = pipeline::AwqLoss::per_linear;
    CHECK(pipeline::awq_block(*m, **fp, xs, x_mean, bq, wrong).error().code == Errc::internal);

    // The search: with a few channels 50x hotter, scaling them up pays (alpha > 0) and the
    // loss falls below plain RTN's; with equal statistics every alpha gives the same scales,
    // so the first (0) is kept.
    pipeline::AwqOptions search;
    auto hot = pipeline::awq_block_per_linear(c, **fp, x_mean, x_sq, bq, search);
    REQUIRE(hot.ok());
    REQUIRE(hot->groups.size() == 4);
    for (const auto& g : hot->groups) {
        INFO("group " << g.group << " alpha " << g.best_alpha << " loss " << g.loss_best << " rtn "
                      << g.loss_plain);
        if (g.group == "o") {
            CHECK_FALSE(g.searched);  // GQA: v's width differs from o's input
            continue;
        }
        CHECK(g.searched);
        CHECK(g.best_alpha > 0.0f);
        CHECK(g.loss_best < g.loss_plain);
    }
    const auto flat = stats(c, 1.0f, 1);
    auto even = pipeline::awq_block_per_linear(c, **fp, sqrt_of(flat), flat, bq, search);
    REQUIRE(even.ok());
    for (const auto& g : even->groups) {
        if (!g.searched) continue;
        CHECK(g.best_alpha == 0.0f);
        CHECK(g.loss_best == g.loss_plain);
    }

    // Threads change nothing.
    pipeline::AwqOptions threaded = search;
    threaded.threads = 3;
    auto t3 = pipeline::awq_block_per_linear(c, **fp, x_mean, x_sq, bq, threaded);
    REQUIRE(t3.ok());
    CHECK(t3->weights.q == hot->weights.q);
    CHECK(t3->weights.down == hot->weights.down);
    CHECK(t3->weights.v == hot->weights.v);

    // Statistics of the wrong width are refused.
    auto bad = x_sq;
    bad[3].pop_back();
    CHECK_FALSE(pipeline::awq_block_per_linear(c, **fp, x_mean, bad, bq, search).ok());
}
