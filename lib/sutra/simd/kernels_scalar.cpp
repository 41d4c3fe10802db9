// The scalar reference of every kernel: the definition the SIMD versions must match bit for bit.
#include <algorithm>
#include <cmath>

#include "sutra/base/half.hpp"
#include "sutra/simd/kernels.hpp"
#include "sutra/simd/sum_order.hpp"

namespace sutra::simd {
namespace {

void f16_to_f32_ref(const uint16_t* in, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const uint16_t h = in[i];  // read before the (possibly aliasing) write
        out[i] = sutra::f16_to_f32(h);
    }
}

void bf16_to_f32_ref(const uint16_t* in, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const uint16_t h = in[i];
        out[i] = sutra::bf16_to_f32(h);
    }
}

bool min_max_ref(const float* x, size_t n, float* lo, float* hi) {
    float a = x[0], b = x[0];
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(x[i])) return false;
        a = std::min(a, x[i]);
        b = std::max(b, x[i]);
    }
    *lo = a;
    *hi = b;
    return true;
}

void quantize_ref(const float* x, size_t n, float scale, float zero, float qmax, uint8_t* codes) {
    for (size_t i = 0; i < n; ++i)
        codes[i] = static_cast<uint8_t>(std::clamp(std::rint(x[i] / scale) + zero, 0.0f, qmax));
}

void dequantize_ref(const uint8_t* codes, size_t n, float scale, float zero, float* out) {
    for (size_t i = 0; i < n; ++i)
        out[i] = (static_cast<float>(codes[i]) - zero) * scale;
}

void pack4_ref(const uint8_t* codes, size_t n, uint8_t* out) {
    for (size_t j = 0; j < n / 2; ++j)
        out[j] = static_cast<uint8_t>(codes[2 * j] | codes[2 * j + 1] << 4);
    if (n % 2) out[n / 2] = codes[n - 1];
}

void unpack4_ref(const uint8_t* in, size_t n, uint8_t* codes) {
    for (size_t k = 0; k < n; ++k)
        codes[k] = static_cast<uint8_t>((in[k >> 1] >> ((k & 1) * 4)) & 0xfu);
}

// Runs `term(i, partials)` over x[0..n) in the block order of kernels.hpp; `flush(partials)`
// combines one block.
template <size_t K, class Term>
void blocked_sums(size_t n, Term term, double* totals) {
    for (size_t b = 0; b < n; b += kSumBlock) {
        const size_t e = std::min(n, b + kSumBlock);
        float p[K][kSumLanes] = {};
        for (size_t i = b; i < e; ++i)
            term(i, (i - b) % kSumLanes, p);
        for (size_t k = 0; k < K; ++k)
            totals[k] += static_cast<double>(combine_partials(p[k]));
    }
}

void error_sums_ref(const float* r, const float* q, size_t n, ErrorSums* s) {
    double t[6] = {};
    float mx = s->max_abs_err;
    blocked_sums<6>(
        n,
        [&](size_t i, size_t lane, float(*p)[kSumLanes]) {
            const float e = r[i] - q[i];
            p[0][lane] += e * e;
            p[1][lane] += r[i] * r[i];
            p[2][lane] += q[i] * q[i];
            p[3][lane] += r[i];
            p[4][lane] += q[i];
            p[5][lane] += r[i] * q[i];
            mx = std::max(mx, std::fabs(e));
        },
        t);
    s->sq_err += t[0];
    s->sq_ref += t[1];
    s->sq_q += t[2];
    s->ref += t[3];
    s->q += t[4];
    s->ref_q += t[5];
    s->max_abs_err = mx;
}

double dot_ref(const float* a, const float* b, size_t n) {
    double t = 0;
    blocked_sums<1>(
        n, [&](size_t i, size_t lane, float(*p)[kSumLanes]) { p[0][lane] += a[i] * b[i]; }, &t);
    return t;
}

double sq_diff_ref(const float* a, const float* b, size_t n) {
    double t = 0;
    blocked_sums<1>(
        n,
        [&](size_t i, size_t lane, float(*p)[kSumLanes]) {
            const float d = a[i] - b[i];
            p[0][lane] += d * d;
        },
        &t);
    return t;
}

}  // namespace

const Kernels& scalar_kernels() {
    static const Kernels k{"scalar",       f16_to_f32_ref, bf16_to_f32_ref, min_max_ref,
                           quantize_ref,   dequantize_ref, pack4_ref,       unpack4_ref,
                           error_sums_ref, dot_ref,        sq_diff_ref};
    return k;
}

}  // namespace sutra::simd
