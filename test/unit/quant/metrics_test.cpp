#include <catch2/catch.hpp>
#include <cmath>

#include "sutra/quant/metrics.hpp"

using namespace sutra::quant;

TEST_CASE("error metrics", "[quant]") {
    const float ref[] = {1, 2, 3, 4};
    const float q[] = {1, 2, 3, 5};
    ErrorStats s;
    s.add(ref, q, 4);
    CHECK(s.mse() == Approx(0.25));
    CHECK(s.rel_error() == Approx(1.0 / std::sqrt(30.0)));
    CHECK(s.snr_db() == Approx(10 * std::log10(30.0)));
    CHECK(s.max_abs_err == 1.0);
    CHECK(s.correlation() == Approx(0.9827076).epsilon(1e-6));

    ErrorStats exact;
    exact.add(ref, ref, 4);
    CHECK(exact.mse() == 0);
    CHECK(exact.rel_error() == 0);
    CHECK(exact.correlation() == Approx(1.0));
    CHECK(exact.snr_db() == 200.0);

    ErrorStats a, b;
    a.add(ref, q, 2);
    b.add(ref + 2, q + 2, 2);
    a.merge(b);
    CHECK(a.mse() == Approx(s.mse()));
    CHECK(a.correlation() == Approx(s.correlation()));
}
