#pragma once
// GPTQ (Frantar et al., ICLR 2023) for one linear, independent of any model: error-feedback
// rounding of W [rows, cols] column by column, each column's rounding error spread over the
// columns not yet rounded with the inverse Hessian of the layer's squared output error,
// H = 2·XᵀX over the calibration inputs X [n, cols].
//
// Steps (as in the reference implementation):
//   1. dead columns (H_jj = 0: the input never moves) get H_jj = 1 and W[:, j] = 0;
//   2. with act_order, columns are visited by descending H_jj (a stable order); groups stay
//      static: every group's scale and zero point is fixed first, from the (dead-zeroed)
//      weights, so the stored layout keeps groups contiguous in the original column order;
//   3. dampening: H += damp · mean(diag H) · I;
//   4. U = the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), in double;
//   5. columns in blocks of `block`: column j is rounded to q_j on its group's grid, its error
//      e = (w_j − q_j) / U_jj updates the block's later columns w_k −= e·U_jk at once, and the
//      block's errors update all later columns in one matrix product (lazy batch).
// The grid is RTN's (quant/rtn.hpp): without act_order each group's scale and zero point come
// from RTN's min/max rule on the group's weights as they are when the group's first column is
// reached (already updated by every earlier column, including those of the same block), so the
// .qbin format is unchanged.
//
// Rows are independent: they are processed in fixed blocks of rows spread over threads, so the
// result does not depend on the thread count.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/quant/layout.hpp"

namespace sutra::quant {

// Sum of x xᵀ over calibration inputs, accumulated in double: the Hessian up to the factor
// 2/n, which GPTQ does not depend on (dampening is relative to the mean diagonal).
class HessianSum {
  public:
    explicit HessianSum(uint64_t cols);
    // Adds the rows of x [n, cols]. Tiles of the product are spread over `threads`; the sum
    // does not depend on their number.
    void add(const float* x, uint64_t n, unsigned threads = 1);
    uint64_t cols() const { return cols_; }
    uint64_t samples() const { return samples_; }
    // Row-major [cols, cols], symmetric.
    const std::vector<double>& sum() const { return h_; }
    // The sum for inputs divided by s per channel (x / s): H_ij / (s_i s_j).
    HessianSum divided_by(std::span<const float> s) const;

  private:
    uint64_t cols_ = 0;
    uint64_t samples_ = 0;
    std::vector<double> h_;
};

struct GptqOptions {
    double damp = 0.01;      // fraction of the mean diagonal added to the diagonal
    uint64_t block = 128;    // columns per lazy batch
    bool act_order = false;  // descending H_jj, with static groups
};

// What GPTQ needs from one input, shared by every linear that reads it (q, k, v).
struct GptqFactor {
    uint64_t cols = 0;
    std::vector<float> u;        // U, upper Cholesky factor of (damped H)⁻¹, permuted, f32
    std::vector<uint32_t> perm;  // visiting order (identity without act_order)
    std::vector<uint8_t> dead;   // per original column: H_jj was 0
    bool act_order = false;
    uint64_t block = 128;
};

// Fails (invalid_argument) when the damped H is not positive definite, naming `what` and
// suggesting a larger --gptq-damp.
Result<GptqFactor> gptq_factor(const HessianSum& h, const GptqOptions& opt,
                               const std::string& what);

struct GptqResult {
    std::vector<uint8_t> codes;    // [rows, cols] unpacked
    std::vector<uint16_t> scales;  // [rows, n_groups] F16 bits
    std::vector<uint8_t> zeros;    // [rows, n_groups] unpacked
};

// Rounds W [l.rows, l.cols] (l.cols == f.cols). A non-finite weight, or a group whose scale
// does not fit an F16, is an error naming `what` and the element.
Result<GptqResult> gptq_quantize(std::span<const float> w, const QuantLayout& l,
                                 const GptqFactor& f, const std::string& what,
                                 unsigned threads = 1);

// ||X Aᵀ - X Bᵀ||² = Σ_r d_r S d_rᵀ for weights a, b [rows, s.cols()], d = a - b, S = Σ x xᵀ
// (the output error of rounding a to b on the inputs summed in s); rows in order, so the
// result does not depend on `threads`.
double hessian_output_error(const std::vector<float>& a, const std::vector<float>& b,
                            const HessianSum& s, uint64_t rows, unsigned threads = 1);

// What the codes decode to, [rows, cols] (for losses and the next block's inputs).
std::vector<float> gptq_dequantize(const GptqResult& r, const QuantLayout& l);

}  // namespace sutra::quant
