#pragma once
// A weight matrix of the forward pass, [out, in] row-major: f32 values (a checkpoint, or a
// tensor a .qbin keeps raw), or the packed codes of a quantized .qbin tensor. Matrix is the
// f32 vector itself, so code that builds or changes weights (the quantization methods, which
// run on checkpoints) uses it as one; `packed` is set, and the vector empty, only for weights a
// WeightSource hands out packed (load_matrix), which only a linear's product reads.
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "sutra/base/error.hpp"
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

// How products with packed weights treat their activations.
enum class ActivationFormat {
    q8,   // quantized to 8 bits per block of 32 (llama.cpp's Q8_0), integer dot products
    f32,  // exact: the f32 activations times the decoded weights
};

// Names on the command line (`--activations q8|f32`); parse errors name the choices.
const char* activation_format_name(ActivationFormat f);
Result<ActivationFormat> parse_activation_format(std::string_view name);

struct PackedProductOptions {
    ActivationFormat activations = ActivationFormat::q8;
    // Threads of the shared worker pool (base/worker_pool.hpp) that products with packed
    // weights run on; 0: default_threads().
    unsigned threads = 0;
    // Products with f32 activations of at least this many rows dequantize tiles of 64 weight
    // rows and call sgemm (faster than the f32 kernel from a handful of rows on); fewer rows
    // use the packed f32 kernel. Q8 products always use the packed Q8 kernel.
    int64_t f32_sgemm_rows = 8;
};

// The options of every later product with packed weights, for the whole process (like the
// instruction set, simd::set_isa): set them once, before products run, not while they run.
void set_packed_product_options(const PackedProductOptions& options);
const PackedProductOptions& packed_product_options();

// y [rows, out] = x [rows, in] * W^T for W [out, in] of either kind. A plain W goes to BLAS.
// A packed W is multiplied on its codes (simd::Kernels::packed_dot_q8 / packed_dot_f32):
// - q8 activations (when every group of W is a multiple of 32 wide, else as f32): each row of
//   x is quantized once, then each output element is one packed_dot_q8;
// - f32 activations: packed_dot_f32 per output element, or from f32_sgemm_rows rows on, tiles
//   of 64 weight rows dequantized into a per-thread buffer and multiplied by sgemm.
// The output rows (W's rows) are split across the pool's threads in fixed blocks, each
// element computed by one kernel call in its fixed order, so results do not depend on the
// thread count (or, for q8, on how many rows x has). Call under SingleThreadedBlas.
void matmul_wt(const float* x, int64_t rows, int64_t in, const Matrix& w, int64_t out, float* y);

}  // namespace sutra::model
