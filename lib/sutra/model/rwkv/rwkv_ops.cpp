#include "sutra/model/rwkv/rwkv_ops.hpp"

#include <algorithm>

#include "sutra/model/blas.hpp"

namespace sutra::model::rwkv {
namespace {

// One normalisation of n values at x (stride 1) with weights w, b at the same offsets.
void normalise(const float* x, const float* w, const float* b, int64_t n, double eps, float* out) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i)
        sum += static_cast<double>(x[i]);
    const double mean = sum / static_cast<double>(n);
    double var = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(x[i]) - mean;
        var += d * d;
    }
    var /= static_cast<double>(n);
    const double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < n; ++i) {
        const auto v = static_cast<float>((static_cast<double>(x[i]) - mean) * inv);
        out[i] = v * w[i] + b[i];
    }
}

}  // namespace

void layer_norm(const float* x, const Vec& w, const Vec& b, int64_t rows, int64_t cols, double eps,
                float* out) {
    for (int64_t r = 0; r < rows; ++r)
        normalise(x + r * cols, w.data(), b.data(), cols, eps, out + r * cols);
}

void group_norm(float* x, const Vec& w, const Vec& b, int64_t rows, int64_t groups, int64_t size,
                double eps) {
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t g = 0; g < groups; ++g) {
            const int64_t at = r * groups * size + g * size;
            normalise(x + at, w.data() + g * size, b.data() + g * size, size, eps, x + at);
        }
    }
}

Vec shifted(const float* xn, const Vec& prev, int64_t T, int64_t C) {
    Vec out(static_cast<size_t>(T * C));
    std::copy(prev.begin(), prev.end(), out.begin());
    std::copy(xn, xn + (T - 1) * C, out.begin() + C);
    return out;
}

void Linears::apply(LinearId id, const float* x, int64_t rows, int64_t in, const Matrix& w,
                    int64_t out, float* y) const {
    if (observer_) observer_(layer_, names_.in_block(linear_name(id)), x, rows, in);
    matmul_wt(x, rows, in, w, out, y);
}

Vec Linears::apply(LinearId id, const float* x, int64_t rows, int64_t in, const Matrix& w,
                   int64_t out) const {
    Vec y(static_cast<size_t>(rows * out));
    apply(id, x, rows, in, w, out, y.data());
    return y;
}

}  // namespace sutra::model::rwkv
