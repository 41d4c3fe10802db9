#include <catch2/catch.hpp>
#include <vector>

#include "support/fixtures.hpp"
#include "sutra/quant/awq.hpp"
#include "sutra/quant/salience.hpp"

using namespace sutra::quant;

TEST_CASE("salience: median, share of high-salience channels, scales", "[quant]") {
    const std::vector<float> g = {1, -1, 1, 1, 4, 1, 2, 1};
    CHECK(median_abs(g) == 1.0f);
    CHECK(salient_share(g, 1.5) == Approx(2.0 / 8));
    CHECK(salient_share(g, 3.0) == Approx(1.0 / 8));
    CHECK(salient_share(g, 1.0) == 1.0);

    const auto none = data_free_scales(g, 1.5, 0.0f);  // alpha 0: plain RTN
    for (float s : none)
        CHECK(s == 1.0f);
    const auto s = data_free_scales(g, 1.5, 0.5f);
    CHECK(s[0] == 1.0f);  // below the cut: unscaled
    CHECK(s[4] == Approx(std::sqrt(4.0 / 1.5)));
    CHECK(s[6] == Approx(std::sqrt(2.0 / 1.5)));
}

TEST_CASE("salience: the proxy loss at alpha 0 is the norm-weighted RTN error", "[quant]") {
    const uint64_t rows = 8, cols = 64;
    const auto w = sutra::test::noise(rows * cols, 3, 0.05f);
    auto g = sutra::test::noise(cols, 4, 1.0f);
    const auto l = make_layout(rows, cols, 4, 32);
    const std::vector<float> ones(cols, 1.0f);
    const auto q = fake_quantize(w, l);
    double expect = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        const double d = static_cast<double>(w[i]) - static_cast<double>(q[i]);
        expect += static_cast<double>(g[i % cols]) * static_cast<double>(g[i % cols]) * d * d;
    }
    CHECK(proxy_loss(w, l, g, ones) == Approx(expect));
}
