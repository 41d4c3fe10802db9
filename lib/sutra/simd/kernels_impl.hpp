// xsimd implementation of the kernel table (kernels.hpp), compiled once per instruction set:
// the including translation unit defines SUTRA_SIMD_ARCH (an xsimd architecture type) and
// SUTRA_SIMD_NS (a namespace name of its own), and is built with that instruction set's
// compiler flags. Everything here lives in that namespace or is a template on the
// architecture, so code built for one instruction set is never shared with another.
//
// Bit-identical to the scalar reference: the same IEEE operations in the same order per
// element (no fused multiply-add: the project builds with -ffp-contract=off), rounding by
// nearbyint / rint (half to even in the default rounding mode), and the fixed order of the sums.
#include <xsimd/xsimd.hpp>

#include <cmath>
#include <cstring>

#include "sutra/base/half.hpp"
#include "sutra/simd/kernels.hpp"
#include "sutra/simd/sum_order.hpp"

namespace sutra::simd::SUTRA_SIMD_NS {
namespace {

using Arch = SUTRA_SIMD_ARCH;
using F = xsimd::batch<float, Arch>;
using I = xsimd::batch<int32_t, Arch>;
constexpr size_t W = F::size;
static_assert(kSumLanes % W == 0, "the sum order needs a lane count dividing kSumLanes");

inline float min_f(float a, float b) {
    return b < a ? b : a;
}
inline float max_f(float a, float b) {
    return a < b ? b : a;
}

// Widening loads (u16 or u8 to i32 lanes) and the narrowing store (i32 lanes in [0, 255] to
// bytes) have no portable xsimd form in this version: one zero-extend or pack instruction on
// x86, a plain loop through a buffer elsewhere (which the compiler vectorizes for the ISA).
// The widest x86 instruction set this translation unit is built for decides the branch; it
// matches the architecture's lane count (checked).
#if defined(__AVX512F__)
#define SUTRA_X86_LANES 16
#elif defined(__AVX2__)
#define SUTRA_X86_LANES 8
#elif defined(__SSE4_1__)
#define SUTRA_X86_LANES 4
#else
#define SUTRA_X86_LANES 0
#endif
static_assert(SUTRA_X86_LANES == 0 || SUTRA_X86_LANES == W, "flags and architecture disagree");

inline I load_u16(const uint16_t* p) {
#if SUTRA_X86_LANES == 16
    return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
#elif SUTRA_X86_LANES == 8
    return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
#elif SUTRA_X86_LANES == 4
    return _mm_cvtepu16_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
#else
    alignas(64) int32_t buf[W];
    for (size_t j = 0; j < W; ++j)
        buf[j] = p[j];
    return I::load_aligned(buf);
#endif
}

inline I load_u8(const uint8_t* p) {
#if SUTRA_X86_LANES == 16
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
#elif SUTRA_X86_LANES == 8
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
#elif SUTRA_X86_LANES == 4
    int32_t four;
    std::memcpy(&four, p, 4);
    return _mm_cvtepu8_epi32(_mm_cvtsi32_si128(four));
#else
    alignas(64) int32_t buf[W];
    for (size_t j = 0; j < W; ++j)
        buf[j] = p[j];
    return I::load_aligned(buf);
#endif
}

inline void store_u8(const I& v, uint8_t* p) {
#if SUTRA_X86_LANES == 16
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(v));
#elif SUTRA_X86_LANES == 8
    // The low byte of each lane (values are in [0, 255]) by a byte shuffle in each half.
    const __m256i pick =
        _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12,
                         -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i b = _mm256_shuffle_epi8(v, pick);
    const __m128i both =
        _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), both);
#elif SUTRA_X86_LANES == 4
    const __m128i pick = _mm_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const int32_t four = _mm_cvtsi128_si32(_mm_shuffle_epi8(v, pick));
    std::memcpy(p, &four, 4);
#else
    alignas(64) int32_t buf[W];
    v.store_aligned(buf);
    for (size_t j = 0; j < W; ++j)
        p[j] = static_cast<uint8_t>(buf[j]);
#endif
}

void f16_to_f32(const uint16_t* in, float* out, size_t n) {
    // Integer arithmetic only for normal halves (moving the exponent and mantissa into place
    // and rebiasing the exponent), int-to-float for subnormal ones (exact: mant * 2^-24), so no
    // f32 subnormal is ever an operand (those are slow on many CPUs).
    const I rebias((127 - 15) << 23);
    const F subnormal_unit(0x1p-24f);
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const I h = load_u16(in + i);
        const I mag = h & I(0x7fff);
        const I sign = (h & I(0x8000)) << 16;
        const I shifted = mag << 13;
        const I normal = shifted + rebias;
        const I special = shifted | I(0x7f800000);  // inf and NaN keep their payload
        const I tiny = xsimd::bitwise_cast<I>(xsimd::batch_cast<float>(mag) * subnormal_unit);
        const I bits =
            xsimd::select(mag >= I(0x7c00), special, xsimd::select(mag < I(0x0400), tiny, normal));
        xsimd::bitwise_cast<F>(bits | sign).store_unaligned(out + i);
    }
    for (; i < n; ++i) {
        const uint16_t h = in[i];
        out[i] = sutra::f16_to_f32(h);
    }
}

void bf16_to_f32(const uint16_t* in, float* out, size_t n) {
    size_t i = 0;
    for (; i + W <= n; i += W)
        xsimd::bitwise_cast<F>(load_u16(in + i) << 16).store_unaligned(out + i);
    for (; i < n; ++i) {
        const uint16_t h = in[i];
        out[i] = sutra::bf16_to_f32(h);
    }
}

bool min_max(const float* x, size_t n, float* lo, float* hi) {
    const F big(3.40282347e38f);
    size_t i = 0;
    float a = x[0], b = x[0];
    if (n >= W) {
        F vlo = F::load_unaligned(x), vhi = vlo;
        auto finite = xsimd::abs(vlo) <= big;
        for (i = W; i + W <= n; i += W) {
            const F v = F::load_unaligned(x + i);
            finite = finite && (xsimd::abs(v) <= big);
            vlo = xsimd::min(vlo, v);
            vhi = xsimd::max(vhi, v);
        }
        if (!xsimd::all(finite)) return false;
        alignas(64) float l[W], h[W];
        vlo.store_aligned(l);
        vhi.store_aligned(h);
        for (size_t j = 0; j < W; ++j) {
            a = min_f(a, l[j]);
            b = max_f(b, h[j]);
        }
    }
    for (; i < n; ++i) {
        if (!std::isfinite(x[i])) return false;
        a = min_f(a, x[i]);
        b = max_f(b, x[i]);
    }
    *lo = a;
    *hi = b;
    return true;
}

void quantize(const float* x, size_t n, float scale, float zero, float qmax, uint8_t* codes) {
    const F s(scale), z(zero), top(qmax), floor(0.0f);
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const F q =
            xsimd::min(xsimd::max(xsimd::nearbyint(F::load_unaligned(x + i) / s) + z, floor), top);
        store_u8(xsimd::batch_cast<int32_t>(q), codes + i);
    }
    for (; i < n; ++i) {
        const float v = std::rint(x[i] / scale) + zero;
        codes[i] = static_cast<uint8_t>(min_f(max_f(v, 0.0f), qmax));
    }
}

void dequantize(const uint8_t* codes, size_t n, float scale, float zero, float* out) {
    const F s(scale), z(zero);
    size_t i = 0;
    for (; i + W <= n; i += W)
        ((xsimd::batch_cast<float>(load_u8(codes + i)) - z) * s).store_unaligned(out + i);
    for (; i < n; ++i)
        out[i] = (static_cast<float>(codes[i]) - zero) * scale;
}

// Byte shuffles have no portable xsimd form in this version; these loops are compiled for
// this ISA and vectorized by the compiler.
void pack4(const uint8_t* codes, size_t n, uint8_t* out) {
    const size_t pairs = n / 2;
    for (size_t j = 0; j < pairs; ++j)
        out[j] = static_cast<uint8_t>(codes[2 * j] | codes[2 * j + 1] << 4);
    if (n % 2) out[pairs] = codes[n - 1];
}

void unpack4(const uint8_t* in, size_t n, uint8_t* codes) {
    const size_t pairs = n / 2;
    for (size_t j = 0; j < pairs; ++j) {
        codes[2 * j] = static_cast<uint8_t>(in[j] & 0xfu);
        codes[2 * j + 1] = static_cast<uint8_t>(in[j] >> 4);
    }
    if (n % 2) codes[n - 1] = static_cast<uint8_t>(in[pairs] & 0xfu);
}

// Sums in the fixed order of kernels.hpp: kSumLanes / W vector accumulators hold the
// kSumLanes partials of a block; `Step(a, i)` adds elements [i, i + W) to accumulator group a,
// `Tail(lane, i)` adds element i to partial `lane` of the stored block.
constexpr size_t kAcc = kSumLanes / W;

template <size_t K, class Step, class Tail>
void blocked_sums(size_t n, Step step, Tail tail, double* totals) {
    for (size_t b = 0; b < n; b += kSumBlock) {
        const size_t e = n < b + kSumBlock ? n : b + kSumBlock;
        F acc[K][kAcc];
        for (size_t k = 0; k < K; ++k)
            for (size_t a = 0; a < kAcc; ++a)
                acc[k][a] = F(0.0f);
        size_t i = b;
        for (; i + kSumLanes <= e; i += kSumLanes)
            for (size_t a = 0; a < kAcc; ++a)
                step(acc, a, i + a * W);
        alignas(64) float p[K][kSumLanes];
        for (size_t k = 0; k < K; ++k)
            for (size_t a = 0; a < kAcc; ++a)
                acc[k][a].store_aligned(p[k] + a * W);
        for (size_t lane = 0; i < e; ++i, ++lane)
            tail(p, lane, i);
        for (size_t k = 0; k < K; ++k)
            totals[k] += static_cast<double>(combine_partials(p[k]));
    }
}

void error_sums(const float* r, const float* q, size_t n, ErrorSums* s) {
    double t[6] = {};
    F mx(s->max_abs_err);
    float mx_tail = s->max_abs_err;
    blocked_sums<6>(
        n,
        [&](F(*acc)[kAcc], size_t a, size_t i) {
            const F vr = F::load_unaligned(r + i), vq = F::load_unaligned(q + i);
            const F e = vr - vq;
            acc[0][a] += e * e;
            acc[1][a] += vr * vr;
            acc[2][a] += vq * vq;
            acc[3][a] += vr;
            acc[4][a] += vq;
            acc[5][a] += vr * vq;
            mx = xsimd::max(mx, xsimd::abs(e));
        },
        [&](float(*p)[kSumLanes], size_t lane, size_t i) {
            const float e = r[i] - q[i];
            p[0][lane] += e * e;
            p[1][lane] += r[i] * r[i];
            p[2][lane] += q[i] * q[i];
            p[3][lane] += r[i];
            p[4][lane] += q[i];
            p[5][lane] += r[i] * q[i];
            mx_tail = max_f(mx_tail, std::fabs(e));
        },
        t);
    alignas(64) float m[W];
    mx.store_aligned(m);
    for (size_t j = 0; j < W; ++j)
        mx_tail = max_f(mx_tail, m[j]);
    s->sq_err += t[0];
    s->sq_ref += t[1];
    s->sq_q += t[2];
    s->ref += t[3];
    s->q += t[4];
    s->ref_q += t[5];
    s->max_abs_err = mx_tail;
}

double dot(const float* a, const float* b, size_t n) {
    double t = 0;
    blocked_sums<1>(
        n,
        [&](F(*acc)[kAcc], size_t k, size_t i) {
            acc[0][k] += F::load_unaligned(a + i) * F::load_unaligned(b + i);
        },
        [&](float(*p)[kSumLanes], size_t lane, size_t i) { p[0][lane] += a[i] * b[i]; }, &t);
    return t;
}

double sq_diff(const float* a, const float* b, size_t n) {
    double t = 0;
    blocked_sums<1>(
        n,
        [&](F(*acc)[kAcc], size_t k, size_t i) {
            const F d = F::load_unaligned(a + i) - F::load_unaligned(b + i);
            acc[0][k] += d * d;
        },
        [&](float(*p)[kSumLanes], size_t lane, size_t i) {
            const float d = a[i] - b[i];
            p[0][lane] += d * d;
        },
        &t);
    return t;
}

}  // namespace

const Kernels& kernels() {
    static const Kernels k{SUTRA_SIMD_NAME, f16_to_f32, bf16_to_f32, min_max, quantize, dequantize,
                           pack4,           unpack4,    error_sums,  dot,     sq_diff};
    return k;
}

}  // namespace sutra::simd::SUTRA_SIMD_NS
