#pragma once
// A weight matrix of the forward pass, [out, in] row-major: f32 values (a checkpoint, or a
// tensor a .qbin keeps raw), or the packed codes of a quantized .qbin tensor. Matrix is the
// f32 vector itself, so code that builds or changes weights (the quantization methods, which
// run on checkpoints) uses it as one; `packed` is set, and the vector empty, only for weights a
// WeightSource hands out packed (load_matrix), which only a linear's product reads.
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "sutra/quant/packed_matrix.hpp"

namespace sutra::model {

class Matrix : public std::vector<float> {
  public:
    Matrix() = default;
    Matrix(std::vector<float> v) : std::vector<float>(std::move(v)) {}  // NOLINT: implicit
    explicit Matrix(std::shared_ptr<const quant::PackedMatrix> p) : packed(std::move(p)) {}

    std::shared_ptr<const quant::PackedMatrix> packed;

    // Number of weights, packed or not.
    uint64_t numel() const { return packed ? packed->rows() * packed->cols() : size(); }
    // Bytes held in memory.
    uint64_t bytes() const { return packed ? packed->bytes() : size() * sizeof(float); }
};

// y [rows, out] = x [rows, in] * W^T for W [out, in] of either kind. A packed W is
// dequantized a tile of rows at a time into a per-thread buffer (never whole) and multiplied
// by BLAS into y's columns; the tiling is fixed, so results do not depend on the thread count.
// Call under SingleThreadedBlas.
void matmul_wt(const float* x, int64_t rows, int64_t in, const Matrix& w, int64_t out, float* y);

}  // namespace sutra::model
