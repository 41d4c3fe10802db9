// The conv and scan kernels of the Mamba mixer against plain double-precision loops written
// from the formulas (transformers' slow path), with odd sizes (channels not a multiple of the
// kernels' blocks, windows shorter than the conv), and softplus against libm.
#include "sutra/model/mamba/mamba_scan.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

using namespace sutra::model::mamba;

namespace {

double wide(float v) {
    return static_cast<double>(v);
}

double silu_ref(double v) {
    return v / (1.0 + std::exp(-v));
}

std::vector<float> random_vector(size_t n, std::mt19937& rng, float scale, float offset = 0.0f) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v)
        x = nd(rng) * scale + offset;
    return v;
}

}  // namespace

TEST_CASE("mamba scan: softplus", "[mamba]") {
    std::vector<float> v;
    for (float x = -40.0f; x <= 40.0f; x += 0.0137f)
        v.push_back(x);
    std::vector<float> got = v;
    softplus_inplace(got.data(), static_cast<int64_t>(got.size()));
    double worst = 0.0;
    for (size_t i = 0; i < v.size(); ++i) {
        const double x = v[i];
        const double want = x > 20.0 ? x : std::log1p(std::exp(x));
        worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want) / want);
    }
    CHECK(worst < 1e-6);
}

TEST_CASE("mamba scan: causal conv carried over windows", "[mamba]") {
    std::mt19937 rng(3);
    const int64_t D = 21, K = 4, T = 11;
    const auto x = random_vector(static_cast<size_t>(T * 2 * D), rng, 1.0f);  // stride 2D
    const auto w = random_vector(static_cast<size_t>(D * K), rng, 0.5f);      // [D, K]
    const auto bias = random_vector(static_cast<size_t>(D), rng, 0.3f);
    std::vector<float> w_t(static_cast<size_t>(K * D));
    for (int64_t c = 0; c < D; ++c)
        for (int64_t k = 0; k < K; ++k)
            w_t[static_cast<size_t>(k * D + c)] = w[static_cast<size_t>(c * K + k)];
    // Reference: zero padding K-1 on the left, first T outputs.
    std::vector<double> want(static_cast<size_t>(T * D));
    for (int64_t t = 0; t < T; ++t)
        for (int64_t c = 0; c < D; ++c) {
            double s = wide(bias[static_cast<size_t>(c)]);
            for (int64_t k = 0; k < K; ++k) {
                const int64_t src = t + k - (K - 1);
                if (src >= 0)
                    s += wide(w[static_cast<size_t>(c * K + k)]) *
                         wide(x[static_cast<size_t>(src * 2 * D + c)]);
            }
            want[static_cast<size_t>(t * D + c)] = silu_ref(s);
        }
    for (const int64_t first : {int64_t{1}, int64_t{2}, int64_t{5}, T}) {
        INFO("first chunk " << first);
        std::vector<float> window(static_cast<size_t>((K - 1) * D), 0.0f);
        std::vector<float> u(static_cast<size_t>(T * D));
        causal_conv_silu(x.data(), 2 * D, first, D, K, w_t.data(), bias.data(), window.data(),
                         u.data());
        for (int64_t t = first; t < T; ++t)  // then token by token
            causal_conv_silu(x.data() + t * 2 * D, 2 * D, 1, D, K, w_t.data(), bias.data(),
                             window.data(), u.data() + t * D);
        double worst = 0.0;
        for (size_t i = 0; i < u.size(); ++i)
            worst = std::max(worst, std::fabs(static_cast<double>(u[i]) - want[i]));
        CHECK(worst < 1e-5);
    }
}

TEST_CASE("mamba scan: selective scan against the recurrence in double", "[mamba]") {
    std::mt19937 rng(5);
    const int64_t D = 37, N = 5, T = 9, R = 2, P = R + 2 * N;
    const auto u = random_vector(static_cast<size_t>(T * D), rng, 1.0f);
    std::vector<float> delta = random_vector(static_cast<size_t>(T * D), rng, 1.0f, -1.0f);
    softplus_inplace(delta.data(), static_cast<int64_t>(delta.size()));
    const auto bc = random_vector(static_cast<size_t>(T * P), rng, 1.0f);
    std::vector<float> A = random_vector(static_cast<size_t>(N * D), rng, 1.0f);  // [N, D]
    for (auto& a : A)
        a = -std::exp(a);
    A[3] = -200.0f;  // exp(delta * A) underflows to 0
    const auto skip = random_vector(static_cast<size_t>(D), rng, 1.0f);
    const auto z = random_vector(static_cast<size_t>(T * 3 * D), rng, 1.0f);  // stride 3D

    std::vector<double> h_ref(static_cast<size_t>(N * D), 0.0), y_ref(static_cast<size_t>(T * D));
    for (int64_t t = 0; t < T; ++t)
        for (int64_t c = 0; c < D; ++c) {
            const double dt = delta[static_cast<size_t>(t * D + c)];
            const double uc = u[static_cast<size_t>(t * D + c)];
            double y = 0.0;
            for (int64_t n = 0; n < N; ++n) {
                double& h = h_ref[static_cast<size_t>(n * D + c)];
                h = std::exp(dt * wide(A[static_cast<size_t>(n * D + c)])) * h +
                    dt * wide(bc[static_cast<size_t>(t * P + R + n)]) * uc;
                y += h * wide(bc[static_cast<size_t>(t * P + R + N + n)]);
            }
            y += wide(skip[static_cast<size_t>(c)]) * uc;
            y_ref[static_cast<size_t>(t * D + c)] =
                y * silu_ref(wide(z[static_cast<size_t>(t * 3 * D + c)]));
        }

    std::vector<float> h(static_cast<size_t>(N * D), 0.0f), y(static_cast<size_t>(T * D));
    for (const int64_t split : {int64_t{0}, int64_t{1}, int64_t{4}}) {
        INFO("first chunk " << split);
        std::fill(h.begin(), h.end(), 0.0f);
        auto run = [&](int64_t t0, int64_t n) {
            ScanArgs a;
            a.T = n;
            a.D = D;
            a.N = N;
            a.u = u.data() + t0 * D;
            a.delta = delta.data() + t0 * D;
            a.B = bc.data() + t0 * P + R;
            a.C = bc.data() + t0 * P + R + N;
            a.ld_bc = P;
            a.A = A.data();
            a.skip = skip.data();
            a.z = z.data() + t0 * 3 * D;
            a.ld_z = 3 * D;
            a.h = h.data();
            a.y = y.data() + t0 * D;
            selective_scan(a);
        };
        run(0, split);
        run(split, T - split);
        double worst_y = 0.0, worst_h = 0.0;
        for (size_t i = 0; i < y.size(); ++i)
            worst_y = std::max(worst_y, std::fabs(static_cast<double>(y[i]) - y_ref[i]));
        for (size_t i = 0; i < h.size(); ++i)
            worst_h = std::max(worst_h, std::fabs(static_cast<double>(h[i]) - h_ref[i]));
        CHECK(worst_y < 1e-5);
        CHECK(worst_h < 1e-5);
    }
}
