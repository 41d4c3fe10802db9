#include "sutra/model/matrix.hpp"

#include <cblas.h>

#include <algorithm>

#include "sutra/model/blas.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::model {
namespace {

// Rows of a packed matrix dequantized at a time: 64 rows of 4,096 inputs are 1 MiB of f32,
// small enough to stay in cache between the dequantization and the product.
constexpr int64_t kTileRows = 64;

}  // namespace

void matmul_wt(const float* x, int64_t rows, int64_t in, const Matrix& w, int64_t out, float* y) {
    if (!w.packed) {
        matmul_wt(x, rows, in, w.data(), out, y);
        return;
    }
    const quant::PackedMatrix& p = *w.packed;
    const simd::Kernels& k = simd::active();
    thread_local std::vector<float> tile;
    tile.resize(static_cast<size_t>(std::min(kTileRows, out) * in));
    for (int64_t o0 = 0; o0 < out; o0 += kTileRows) {
        const int64_t n = std::min(kTileRows, out - o0);
        p.dequantize_rows(k, static_cast<uint64_t>(o0), static_cast<uint64_t>(n), tile.data());
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
                    static_cast<int>(n), static_cast<int>(in), 1.0f, x, static_cast<int>(in),
                    tile.data(), static_cast<int>(in), 0.0f, y + o0, static_cast<int>(out));
    }
}

}  // namespace sutra::model
