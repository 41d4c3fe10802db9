#pragma once
// The element-wise and row-wise pieces RWKV blocks are made of, and the linear layer that tells
// the LinearObserver its input before the matrix product.
//
//   layer_norm(x)  = (x - mean) / sqrt(var + eps) * w + b           per row of C (mean, var in
//                                                                    double)
//   group_norm(x)  = the same per group of S consecutive channels (the heads), * w + b over C
//   shift(xn)      = rows [prev, xn_0, ..., xn_{T-2}]: each token's previous normalised input,
//                    `prev` the last one the state saw (zeros at the start)
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "sutra/model/family.hpp"
#include "sutra/model/rwkv/rwkv_tensors.hpp"

namespace sutra::model::rwkv {

void layer_norm(const float* x, const Vec& w, const Vec& b, int64_t rows, int64_t cols, double eps,
                float* out);
// In place on x [rows, groups * size].
void group_norm(float* x, const Vec& w, const Vec& b, int64_t rows, int64_t groups, int64_t size,
                double eps);
// [T, C]: row 0 = prev, row t = xn row t-1.
Vec shifted(const float* xn, const Vec& prev, int64_t T, int64_t C);

inline float sigmoid(float x) {
    return 1.0f / (1.0f + std::exp(-x));
}
inline float silu(float x) {
    return x / (1.0f + std::exp(-x));
}

// y [rows, out] = x [rows, in] W^T, W [out, in], after reporting x to the observer (if any) under
// the linear's name in the checkpoint's naming. Call under SingleThreadedBlas.
class Linears {
  public:
    Linears(const LinearObserver& observer, int layer, const Names& names)
        : observer_(observer), layer_(layer), names_(names) {}
    void apply(LinearId id, const float* x, int64_t rows, int64_t in, const Matrix& w, int64_t out,
               float* y) const;
    Vec apply(LinearId id, const float* x, int64_t rows, int64_t in, const Matrix& w,
              int64_t out) const;

  private:
    const LinearObserver& observer_;
    int layer_;
    const Names& names_;
};

}  // namespace sutra::model::rwkv
