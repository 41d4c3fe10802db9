// The numeric pieces behind AWQ's speed: the coarse-to-fine grid search (the full grid's point
// on unimodal losses, in fewer evaluations), the row-parallel scale-quantize-unscale transform,
// the clipping search through per-group Gram matrices (the same choice as the sum over tokens)
// and the row-parallel weighted error; all independent of the thread count.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "sutra/quant/awq.hpp"
#include "sutra/quant/layout.hpp"

using namespace sutra;

namespace {

std::vector<float> normal(size_t n, uint32_t seed, float sd = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, sd);
    std::vector<float> v(n);
    for (auto& x : v)
        x = nd(rng);
    return v;
}

// First index of the least value.
size_t argmin(const std::vector<double>& v) {
    size_t b = 0;
    for (size_t i = 1; i < v.size(); ++i)
        if (v[i] < v[b]) b = i;
    return b;
}

}  // namespace

TEST_CASE("grid search: coarse to fine finds the full grid's point on unimodal losses",
          "[awq][quant]") {
    std::mt19937 rng(11);
    std::uniform_real_distribution<double> step(0.01, 1.0);
    int cases = 0;
    for (size_t n = 1; n <= 40; ++n) {
        for (size_t m = 0; m < n; ++m) {
            for (int shape = 0; shape < 4; ++shape) {
                // Strictly decreasing to m, strictly increasing after, with random steps.
                std::vector<double> loss(n);
                loss[m] = 1.0;
                for (size_t i = m; i-- > 0;)
                    loss[i] = loss[i + 1] + step(rng);
                for (size_t i = m + 1; i < n; ++i)
                    loss[i] = loss[i - 1] + step(rng) * (shape == 3 ? 1e-6 : 1.0);
                std::vector<int> calls(n, 0);
                std::vector<double> seen;
                const size_t got = quant::grid_search_min(
                    n, quant::GridSearch::coarse_to_fine,
                    [&](size_t i) {
                        ++calls[i];
                        return loss[i];
                    },
                    &seen);
                INFO("n " << n << " minimum at " << m << " shape " << shape);
                REQUIRE(got == m);
                size_t evaluated = 0;
                REQUIRE(seen.size() == n);
                for (size_t i = 0; i < n; ++i) {
                    CHECK(calls[i] <= 1);  // never the same point twice
                    if (calls[i]) {
                        ++evaluated;
                        CHECK(seen[i] == loss[i]);
                    } else {
                        CHECK(std::isnan(seen[i]));
                    }
                }
                // Every 4th point, then at most 2 + 2 more.
                CHECK(evaluated <= (n + 3) / 4 + 4);
                if (n == 20) CHECK(evaluated <= 9);
                ++cases;
            }
        }
    }
    CHECK(cases == 4 * 40 * 41 / 2);
}

TEST_CASE("grid search: the full grid, ties, NaN, and what coarse to fine can miss",
          "[awq][quant]") {
    // Full: every point in order; the first least value wins; NaN never wins.
    const std::vector<double> loss = {3, 2, 5, 1, 1, 4, std::nan(""), 7};
    std::vector<size_t> order;
    CHECK(quant::grid_search_min(loss.size(), quant::GridSearch::full, [&](size_t i) {
              order.push_back(i);
              return loss[i];
          }) == 3);
    CHECK(order == std::vector<size_t>{0, 1, 2, 3, 4, 5, 6, 7});
    const std::vector<double> nans(5, std::nan(""));
    CHECK(quant::grid_search_min(5, quant::GridSearch::full, [&](size_t i) { return nans[i]; }) ==
          0);
    // Flat: point 0 (the unscaled one), after the coarse points and two refinements.
    size_t flat_calls = 0;
    CHECK(quant::grid_search_min(20, quant::GridSearch::coarse_to_fine, [&](size_t) {
              ++flat_calls;
              return 1.0;
          }) == 0);
    CHECK(flat_calls == 7);  // 0, 4, 8, 12, 16, then 2, then 1
    // Two valleys: the deep one (at 9) lies between coarse points whose losses point away from
    // it, so coarse to fine settles in the other (at 16); refining the best two points at each
    // level (16 and 8, then 10 and 16) finds it.
    std::vector<double> two(20);
    for (size_t i = 0; i < 20; ++i)
        two[i] = std::fabs(static_cast<double>(i) - 16.0) + 5.0;
    two[9] = 0.5;
    two[10] = 3.0;
    two[8] = 6.0;
    two[11] = 10.0;
    CHECK(argmin(two) == 9);
    auto f = [&](size_t i) { return two[i]; };
    CHECK(quant::grid_search_min(20, quant::GridSearch::full, f) == 9);
    CHECK(quant::grid_search_min(20, quant::GridSearch::coarse_to_fine, f) == 16);
    CHECK(quant::grid_search_min(20, quant::GridSearch::coarse_to_fine, f, nullptr, 2) == 9);
}

TEST_CASE("scaled fake quantization: the three-step transform bit for bit, on any thread count",
          "[awq][quant]") {
    const uint64_t rows = 37, cols = 96;
    auto w = normal(rows * cols, 3);
    w[5] = std::numeric_limits<float>::infinity();  // a row RTN refuses passes through
    const auto l = quant::make_layout(rows, cols, 4, 32);
    auto s = normal(cols, 4, 0.5f);
    for (auto& v : s)
        v = std::exp(v);
    auto want = w;
    quant::scale_columns(want, cols, s);
    want = quant::fake_quantize(want, l);
    quant::scale_columns(want, cols, s, true);
    for (const unsigned threads : {1u, 2u, 5u}) {
        std::vector<float> got;
        quant::scaled_fake_quantize(w, l, s, got, threads);
        CHECK(got == want);
    }
    std::vector<float> plain;
    quant::scaled_fake_quantize(w, l, {}, plain, 3);
    CHECK(plain == quant::fake_quantize(w, l));
    CHECK(plain != want);
}

TEST_CASE("clipping search: the Gram form picks the bound of least output error", "[awq][quant]") {
    // Both paths: groups narrower than the sample (Gram matrices) and wider (rows).
    for (const uint64_t tokens : {uint64_t{300}, uint64_t{20}}) {
        INFO("sampled tokens " << tokens);
        const uint64_t rows = 24, cols = 64, n = 500;
        auto w = normal(rows * cols, 5);
        for (size_t i = 0; i < w.size(); i += 29)
            w[i] *= 6.0f;  // outliers that clipping trades against
        const auto x = normal(n * cols, 6);
        const auto l = quant::make_layout(rows, cols, 3, 32);
        quant::ClipOptions opt;
        opt.max_tokens = tokens;
        const auto bounds = quant::search_clip(w, l, x, n, opt, 1);
        REQUIRE(bounds.size() == rows * l.n_groups);
        for (const unsigned threads : {2u, 3u})
            CHECK(quant::search_clip(w, l, x, n, opt, threads) == bounds);

        // Reference: every candidate's error summed over the same sampled tokens, in double.
        const uint64_t m = std::min(n, tokens);
        const int steps = static_cast<int>(opt.max_shrink * static_cast<float>(opt.grid));
        size_t clipped = 0;
        for (uint64_t r = 0; r < rows; ++r) {
            for (uint64_t g = 0; g < l.n_groups; ++g) {
                const uint64_t b = g * l.group, width = l.group_width(g);
                float mx = 0;
                for (uint64_t c = 0; c < width; ++c)
                    mx = std::max(mx, std::fabs(w[r * cols + b + c]));
                std::vector<double> err;
                std::vector<float> cand;
                for (int i = 0; i < steps; ++i) {
                    const float bound =
                        mx * (1.0f - static_cast<float>(i) / static_cast<float>(opt.grid));
                    std::vector<float> row(w.begin() + static_cast<long>(r * cols),
                                           w.begin() + static_cast<long>((r + 1) * cols));
                    std::vector<float> bs(l.n_groups, std::numeric_limits<float>::max());
                    bs[g] = bound;
                    auto one = quant::make_layout(1, cols, l.bits, static_cast<uint32_t>(l.group));
                    quant::apply_clip(row, one, bs);
                    const auto q = quant::fake_quantize(row, one);
                    double e = 0;
                    for (uint64_t t = 0; t < m; ++t) {
                        const float* xt = x.data() + (t * n / m) * cols + b;
                        double d = 0;
                        for (uint64_t c = 0; c < width; ++c)
                            d += static_cast<double>(xt[c]) *
                                 (static_cast<double>(q[b + c]) -
                                  static_cast<double>(w[r * cols + b + c]));
                        e += d * d;
                    }
                    err.push_back(e);
                    cand.push_back(bound);
                }
                const float got = bounds[r * l.n_groups + g];
                size_t k = 0;
                while (k < cand.size() && cand[k] != got)
                    ++k;
                REQUIRE(k < cand.size());
                const double best = err[argmin(err)];
                INFO("row " << r << " group " << g << " chose " << k << " best " << argmin(err));
                CHECK(err[k] <= best * (1.0 + 1e-4));
                clipped += k > 0 ? 1 : 0;
            }
        }
        CHECK(clipped > 0);  // the search does clip some groups
    }
}

TEST_CASE("weighted error: the same sum on every thread count", "[awq][quant]") {
    const uint64_t rows = 301, cols = 40;
    const auto a = normal(rows * cols, 8), b = normal(rows * cols, 9);
    auto d = normal(cols, 10);
    for (auto& v : d)
        v = v * v;
    const double one = quant::weighted_sq_error(a, b, cols, d, 1);
    double want = 0;
    for (uint64_t r = 0; r < rows; ++r) {
        double row = 0;
        for (uint64_t c = 0; c < cols; ++c) {
            const double e =
                static_cast<double>(a[r * cols + c]) - static_cast<double>(b[r * cols + c]);
            row += static_cast<double>(d[c]) * e * e;
        }
        want += row;
    }
    CHECK(one == want);
    for (const unsigned threads : {2u, 4u, 7u})
        CHECK(quant::weighted_sq_error(a, b, cols, d, threads) == one);
}
