#include "sutra/quant/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sutra/simd/dispatch.hpp"

namespace sutra::quant {

void ErrorStats::add(const float* ref, const float* q, size_t n) {
    simd::ErrorSums sums;
    simd::active().error_sums(ref, q, n, &sums);
    sum_sq_err += sums.sq_err;
    sum_sq_ref += sums.sq_ref;
    sum_sq_q += sums.sq_q;
    sum_ref += sums.ref;
    sum_q += sums.q;
    sum_ref_q += sums.ref_q;
    max_abs_err = std::max(max_abs_err, static_cast<double>(sums.max_abs_err));
    count += n;
}

void ErrorStats::merge(const ErrorStats& o) {
    count += o.count;
    sum_sq_err += o.sum_sq_err;
    sum_sq_ref += o.sum_sq_ref;
    sum_sq_q += o.sum_sq_q;
    sum_ref += o.sum_ref;
    sum_q += o.sum_q;
    sum_ref_q += o.sum_ref_q;
    max_abs_err = std::max(max_abs_err, o.max_abs_err);
}

double ErrorStats::mse() const {
    return count ? sum_sq_err / static_cast<double>(count) : 0.0;
}

double ErrorStats::rel_error() const {
    if (sum_sq_ref == 0) return sum_sq_err == 0 ? 0.0 : std::numeric_limits<double>::infinity();
    return std::sqrt(sum_sq_err / sum_sq_ref);
}

double ErrorStats::snr_db() const {
    if (sum_sq_err == 0) return 200.0;
    if (sum_sq_ref == 0) return -200.0;
    return std::min(200.0, 10.0 * std::log10(sum_sq_ref / sum_sq_err));
}

double ErrorStats::correlation() const {
    if (count == 0) return 1.0;
    const double n = static_cast<double>(count);
    const double cov = sum_ref_q - sum_ref * sum_q / n;
    const double vr = sum_sq_ref - sum_ref * sum_ref / n;
    const double vq = sum_sq_q - sum_q * sum_q / n;
    if (vr <= 0 || vq <= 0) return (vr <= 0 && vq <= 0 && sum_sq_err == 0) ? 1.0 : 0.0;
    return cov / std::sqrt(vr * vq);
}

}  // namespace sutra::quant
