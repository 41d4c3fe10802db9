#pragma once
// Error metrics between a reference tensor and its reconstruction, accumulated in double
// chunk by chunk so tensors of any size stream through.
#include <cstddef>
#include <cstdint>

namespace sutra::quant {

struct ErrorStats {
    uint64_t count = 0;
    double sum_sq_err = 0, sum_sq_ref = 0, sum_sq_q = 0;
    double sum_ref = 0, sum_q = 0, sum_ref_q = 0;
    double max_abs_err = 0;

    void add(const float* ref, const float* q, size_t n);
    void merge(const ErrorStats& o);

    double mse() const;
    // Relative error ||ref - q||_2 / ||ref||_2 (0 when both are zero, inf when only ref is).
    double rel_error() const;
    // 10 log10(||ref||^2 / ||ref - q||^2), capped at 200 dB for an exact reconstruction.
    double snr_db() const;
    // Pearson correlation of ref and q (1 when both are constant and equal).
    double correlation() const;
};

}  // namespace sutra::quant
