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

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

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

// Byte shuffles have no portable xsimd form in this version: packing is a loop compiled for
// this ISA and vectorized by the compiler; unpacking is unpack4_fast (below, intrinsics on x86).
void pack4(const uint8_t* codes, size_t n, uint8_t* out) {
    const size_t pairs = n / 2;
    for (size_t j = 0; j < pairs; ++j)
        out[j] = static_cast<uint8_t>(codes[2 * j] | codes[2 * j + 1] << 4);
    if (n % 2) out[pairs] = codes[n - 1];
}

void unpack4_fast(const uint8_t* in, size_t n, uint8_t* codes);

void unpack4(const uint8_t* in, size_t n, uint8_t* codes) {
    unpack4_fast(in, n, codes);
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

// ---- Products on packed weights (kernels.hpp) ----
//
// The integer block dots are written with x86 intrinsics: xsimd 8.1 has no u8 x s8
// multiply-add (pmaddubsw), no 16-bit multiply-add into 32 bits (pmaddwd), no byte unpacks and
// no cross-lane shuffles, and those are what make them fast. Other instruction sets take plain
// loops compiled for them. Integer sums are exact, so any order gives the same bits; the float
// parts (the fixed order of kernels.hpp) are xsimd.

// Code k of a bit-packed row (quant/layout.hpp).
inline uint32_t packed_code(const uint8_t* p, size_t k, int bits) {
    const size_t bit = k * static_cast<size_t>(bits);
    uint32_t v = p[bit >> 3];
    if ((bit & 7) + static_cast<size_t>(bits) > 8)
        v |= static_cast<uint32_t>(p[(bit >> 3) + 1]) << 8;
    return (v >> (bit & 7)) & ((1u << bits) - 1u);
}

// 4-bit codes to bytes: code 2j is the low nibble of byte j, code 2j+1 the high one. The
// vector step splits a register of bytes into low and high nibbles and interleaves them back
// into code order with byte unpacks (within 128-bit lanes) and one lane permute.
void unpack4_fast(const uint8_t* in, size_t n, uint8_t* codes) {
    size_t j = 0;  // bytes of `in` done
#if SUTRA_X86_LANES == 16
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    const __m512i second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    for (; 2 * (j + 64) <= n; j += 64) {
        const __m512i b = _mm512_loadu_si512(in + j);
        const __m512i lo = _mm512_and_si512(b, m4);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(b, 4), m4);
        const __m512i a = _mm512_unpacklo_epi8(lo, hi), c = _mm512_unpackhi_epi8(lo, hi);
        _mm512_storeu_si512(codes + 2 * j, _mm512_permutex2var_epi64(a, first, c));
        _mm512_storeu_si512(codes + 2 * j + 64, _mm512_permutex2var_epi64(a, second, c));
    }
#elif SUTRA_X86_LANES == 8
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (; 2 * (j + 32) <= n; j += 32) {
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + j));
        const __m256i lo = _mm256_and_si256(b, m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), m4);
        const __m256i a = _mm256_unpacklo_epi8(lo, hi), c = _mm256_unpackhi_epi8(lo, hi);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + 2 * j),
                            _mm256_permute2x128_si256(a, c, 0x20));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + 2 * j + 32),
                            _mm256_permute2x128_si256(a, c, 0x31));
    }
#elif SUTRA_X86_LANES == 4
    const __m128i m4 = _mm_set1_epi8(0x0f);
    for (; 2 * (j + 16) <= n; j += 16) {
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + j));
        const __m128i lo = _mm_and_si128(b, m4);
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), m4);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + 2 * j), _mm_unpacklo_epi8(lo, hi));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + 2 * j + 16), _mm_unpackhi_epi8(lo, hi));
    }
#endif
    for (size_t k = 2 * j; k < n; ++k)
        codes[k] = static_cast<uint8_t>((in[k >> 1] >> ((k & 1) * 4)) & 0xfu);
}

// n codes of `bits` bits (1 to 8) from a bit-packed row to bytes.
void unpack_codes_row(const uint8_t* in, size_t n, int bits, uint8_t* codes) {
    size_t k = 0;
    if (bits == 8) {
        std::memcpy(codes, in, n);
        return;
    }
    if (bits == 4) {
        unpack4_fast(in, n, codes);
        return;
    }
    if (bits == 3) {  // 8 codes in each 3 bytes
        for (; k + 8 <= n; k += 8) {
            const uint8_t* b = in + k / 8 * 3;
            const uint32_t v =
                b[0] | static_cast<uint32_t>(b[1]) << 8 | static_cast<uint32_t>(b[2]) << 16;
            for (uint32_t m = 0; m < 8; ++m)
                codes[k + m] = static_cast<uint8_t>((v >> (3 * m)) & 7u);
        }
    }
    for (; k < n; ++k)
        codes[k] = static_cast<uint8_t>(packed_code(in, k, bits));
}

// The exact dot products of 16 consecutive Q8 blocks: out[k] = sum over i < 32 of
// code[32k + i] * q[32k + i]. `Codes` hands out the codes in units of two registers holding, in
// order, the codes of 4 blocks (AVX-512), 2 blocks (AVX2) or 1 block (SSE): BufferCodes from
// bytes, Packed4Codes straight from the 4-bit packed row (a split into nibbles and an
// interleave, as unpack4_fast). Narrow codes (below 16) use the u8 x s8 multiply-add, whose
// 16-bit pair sums saturate above 32767 (2 * 15 * 127, or twice that when SSE adds two, stay
// below); wide ones (8-bit codes, read in place) go through 16-bit products.
#if SUTRA_X86_LANES == 16
using V = __m512i;
constexpr size_t kUnitBlocks = 4;
struct BufferCodes {
    const uint8_t* c;
    void unit(size_t m, V* r) const {
        r[0] = _mm512_loadu_si512(c + 128 * m);
        r[1] = _mm512_loadu_si512(c + 128 * m + 64);
    }
};
struct Packed4Codes {
    const uint8_t* p;
    void unit(size_t m, V* r) const {
        const __m512i m4 = _mm512_set1_epi8(0x0f);
        const __m512i b = _mm512_loadu_si512(p + 64 * m);
        const __m512i lo = _mm512_and_si512(b, m4);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(b, 4), m4);
        const __m512i a = _mm512_unpacklo_epi8(lo, hi), c = _mm512_unpackhi_epi8(lo, hi);
        r[0] = _mm512_permutex2var_epi64(a, _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), c);
        r[1] = _mm512_permutex2var_epi64(a, _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15), c);
    }
};

// v[k]: 128-bit lanes 0, 1 hold partial sums of block 2k, lanes 2, 3 of block 2k + 1.
inline void reduce_pairs16(const __m512i* v, int32_t* out) {
    // Per 128-bit lane: pairs, then quads, so lane L of w0 holds v[0..3]'s lane-L sums.
    const auto pair = [](__m512i a, __m512i b) {
        return _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    };
    const auto quad = [](__m512i a, __m512i b) {
        return _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
    };
    const __m512i w0 = quad(pair(v[0], v[1]), pair(v[2], v[3]));
    const __m512i w1 = quad(pair(v[4], v[5]), pair(v[6], v[7]));
    // Lanes 0+1 and 2+3: blocks 0 2 4 6 | 1 3 5 7 | 8 10 12 14 | 9 11 13 15, then in order.
    const __m512i s =
        _mm512_add_epi32(_mm512_shuffle_i64x2(w0, w1, 0x88), _mm512_shuffle_i64x2(w0, w1, 0xDD));
    const __m512i order = _mm512_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15);
    _mm512_storeu_si512(out, _mm512_permutexvar_epi32(order, s));
}

template <class Codes>
void block_dots16(const Codes& codes, const int8_t* q, int32_t* out) {
    const __m512i ones = _mm512_set1_epi16(1);
    __m512i v[8];
    for (size_t m = 0; m < 4; ++m) {
        __m512i r[2];
        codes.unit(m, r);
        for (size_t i = 0; i < 2; ++i)
            v[2 * m + i] = _mm512_madd_epi16(
                _mm512_maddubs_epi16(r[i], _mm512_loadu_si512(q + 128 * m + 64 * i)), ones);
    }
    reduce_pairs16(v, out);
}

void block_dots16_wide(const uint8_t* c, const int8_t* q, int32_t* out) {
    const auto ld = [](const void* p) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    };
    __m512i v[8];
    for (size_t k = 0; k < 8; ++k) {
        const uint8_t* ck = c + 64 * k;
        const int8_t* qk = q + 64 * k;
        const __m512i ma =
            _mm512_madd_epi16(_mm512_cvtepu8_epi16(ld(ck)), _mm512_cvtepi8_epi16(ld(qk)));
        const __m512i mb =
            _mm512_madd_epi16(_mm512_cvtepu8_epi16(ld(ck + 32)), _mm512_cvtepi8_epi16(ld(qk + 32)));
        v[k] = _mm512_add_epi32(_mm512_shuffle_i64x2(ma, mb, 0x44),
                                _mm512_shuffle_i64x2(ma, mb, 0xEE));
    }
    reduce_pairs16(v, out);
}

// The same 16 block dots from a 4-bit packed row (p: 256 bytes) and the activations in nibble
// order (qn: q8_nibble_order): each 64-byte unit's low nibbles times its chunk's even values
// and high nibbles times the odd ones, no interleave; 128-bit lane k of unit m sums block
// 4m + k. The u8 x s8 pair sums of the two halves added in 16 bits stay below 4 * 15 * 128.
// `units` < 4: only the first units * 4 blocks are there (the rest of out is 0), nothing
// past them is read.
void block_dots16_nib(const uint8_t* p, const int8_t* qn, int32_t* out, size_t units = 4) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i ones = _mm512_set1_epi16(1);
    __m512i u[4];
    for (size_t m = 0; m < 4; ++m) {
        if (m >= units) {
            u[m] = _mm512_setzero_si512();
            continue;
        }
        const __m512i b = _mm512_loadu_si512(p + 64 * m);
        const __m512i lo = _mm512_and_si512(b, m4);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(b, 4), m4);
        const __m512i e = _mm512_maddubs_epi16(lo, _mm512_loadu_si512(qn + 128 * m));
        const __m512i o = _mm512_maddubs_epi16(hi, _mm512_loadu_si512(qn + 128 * m + 64));
        u[m] = _mm512_madd_epi16(_mm512_add_epi16(e, o), ones);
    }
    const auto pair = [](__m512i a, __m512i b) {
        return _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    };
    const auto quad = [](__m512i a, __m512i b) {
        return _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
    };
    // Element 4k + m: block 4m + k.
    const __m512i w = quad(pair(u[0], u[1]), pair(u[2], u[3]));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    _mm512_storeu_si512(out, _mm512_permutexvar_epi32(order, w));
}
#elif SUTRA_X86_LANES == 8
using V = __m256i;
constexpr size_t kUnitBlocks = 2;
struct BufferCodes {
    const uint8_t* c;
    void unit(size_t m, V* r) const {
        r[0] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 64 * m));
        r[1] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 64 * m + 32));
    }
};
struct Packed4Codes {
    const uint8_t* p;
    void unit(size_t m, V* r) const {
        const __m256i m4 = _mm256_set1_epi8(0x0f);
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * m));
        const __m256i lo = _mm256_and_si256(b, m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), m4);
        const __m256i a = _mm256_unpacklo_epi8(lo, hi), c = _mm256_unpackhi_epi8(lo, hi);
        r[0] = _mm256_permute2x128_si256(a, c, 0x20);
        r[1] = _mm256_permute2x128_si256(a, c, 0x31);
    }
};

// v[k]: the 8 partial sums of block k; out[0..8) their totals.
inline void reduce8(const __m256i* v, int32_t* out) {
    // x: 128-bit lane L holds blocks 0..3's sums over their lane L; y: blocks 4..7's.
    const __m256i x =
        _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    const __m256i y =
        _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                        _mm256_add_epi32(_mm256_permute2x128_si256(x, y, 0x20),
                                         _mm256_permute2x128_si256(x, y, 0x31)));
}

template <class Codes>
void block_dots16(const Codes& codes, const int8_t* q, int32_t* out) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t h = 0; h < 2; ++h) {
        __m256i v[8];
        for (size_t m = 0; m < 4; ++m) {
            __m256i r[2];
            codes.unit(4 * h + m, r);
            for (size_t i = 0; i < 2; ++i) {
                const int8_t* qk = q + 32 * (8 * h + 2 * m + i);
                v[2 * m + i] = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(r[i],
                                         _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qk))),
                    ones);
            }
        }
        reduce8(v, out + 8 * h);
    }
}

void block_dots16_wide(const uint8_t* c, const int8_t* q, int32_t* out) {
    const auto ld = [](const void* p) {
        return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    };
    for (size_t h = 0; h < 2; ++h) {
        __m256i v[8];
        for (size_t k = 0; k < 8; ++k) {
            const uint8_t* ck = c + 32 * (8 * h + k);
            const int8_t* qk = q + 32 * (8 * h + k);
            v[k] = _mm256_add_epi32(
                _mm256_madd_epi16(_mm256_cvtepu8_epi16(ld(ck)), _mm256_cvtepi8_epi16(ld(qk))),
                _mm256_madd_epi16(_mm256_cvtepu8_epi16(ld(ck + 16)),
                                  _mm256_cvtepi8_epi16(ld(qk + 16))));
        }
        reduce8(v, out + 8 * h);
    }
}

// As the AVX-512 block_dots16_nib: 32-byte units of 2 blocks, unit m of chunk m / 2; 128-bit
// lane k of unit m sums block 2m + k.
void block_dots16_nib(const uint8_t* p, const int8_t* qn, int32_t* out) {
    const auto ld = [](const void* a) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
    };
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (size_t h = 0; h < 2; ++h) {
        __m256i u[4];
        for (size_t i = 0; i < 4; ++i) {
            const size_t m = 4 * h + i;
            const __m256i b = ld(p + 32 * m);
            const __m256i lo = _mm256_and_si256(b, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), m4);
            const int8_t* qc = qn + 128 * (m / 2) + 32 * (m % 2);
            const __m256i e = _mm256_maddubs_epi16(lo, ld(qc));
            const __m256i o = _mm256_maddubs_epi16(hi, ld(qc + 64));
            u[i] = _mm256_madd_epi16(_mm256_add_epi16(e, o), ones);
        }
        const auto pair = [](__m256i a, __m256i b) {
            return _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
        };
        const auto quad = [](__m256i a, __m256i b) {
            return _mm256_add_epi32(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
        };
        // Element 4k + i: block 8h + 2i + k.
        const __m256i w = quad(pair(u[0], u[1]), pair(u[2], u[3]));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * h),
                            _mm256_permutevar8x32_epi32(w, order));
    }
}
#elif SUTRA_X86_LANES == 4
using V = __m128i;
constexpr size_t kUnitBlocks = 1;
struct BufferCodes {
    const uint8_t* c;
    void unit(size_t m, V* r) const {
        r[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 32 * m));
        r[1] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 32 * m + 16));
    }
};
struct Packed4Codes {
    const uint8_t* p;
    void unit(size_t m, V* r) const {
        const __m128i m4 = _mm_set1_epi8(0x0f);
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * m));
        const __m128i lo = _mm_and_si128(b, m4);
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), m4);
        r[0] = _mm_unpacklo_epi8(lo, hi);
        r[1] = _mm_unpackhi_epi8(lo, hi);
    }
};

template <class Codes>
void block_dots16(const Codes& codes, const int8_t* q, int32_t* out) {
    const auto ld = [](const void* p) {
        return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    };
    const __m128i ones = _mm_set1_epi16(1);
    for (size_t h = 0; h < 4; ++h) {
        __m128i v[4];
        for (size_t k = 0; k < 4; ++k) {
            __m128i r[2];
            const size_t b = 4 * h + k;
            codes.unit(b, r);
            const __m128i m = _mm_add_epi16(_mm_maddubs_epi16(r[0], ld(q + 32 * b)),
                                            _mm_maddubs_epi16(r[1], ld(q + 32 * b + 16)));
            v[k] = _mm_madd_epi16(m, ones);
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * h),
                         _mm_hadd_epi32(_mm_hadd_epi32(v[0], v[1]), _mm_hadd_epi32(v[2], v[3])));
    }
}

void block_dots16_wide(const uint8_t* c, const int8_t* q, int32_t* out) {
    const auto ld8 = [](const void* p) {
        return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    };
    for (size_t h = 0; h < 4; ++h) {
        __m128i v[4];
        for (size_t k = 0; k < 4; ++k) {
            const uint8_t* ck = c + 32 * (4 * h + k);
            const int8_t* qk = q + 32 * (4 * h + k);
            __m128i s = _mm_setzero_si128();
            for (size_t i = 0; i < 32; i += 8)
                s = _mm_add_epi32(s, _mm_madd_epi16(_mm_cvtepu8_epi16(ld8(ck + i)),
                                                    _mm_cvtepi8_epi16(ld8(qk + i))));
            v[k] = s;
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * h),
                         _mm_hadd_epi32(_mm_hadd_epi32(v[0], v[1]), _mm_hadd_epi32(v[2], v[3])));
    }
}
#else
constexpr size_t kUnitBlocks = 0;  // no in-register 4-bit decoding: codes go through bytes
struct BufferCodes {
    const uint8_t* c;
};

template <class Codes>
void block_dots16(const Codes& codes, const int8_t* q, int32_t* out) {
    for (size_t k = 0; k < 16; ++k) {
        int32_t s = 0;
        for (size_t i = 32 * k; i < 32 * (k + 1); ++i)
            s += static_cast<int32_t>(codes.c[i]) * q[i];
        out[k] = s;
    }
}

void block_dots16_wide(const uint8_t* c, const int8_t* q, int32_t* out) {
    block_dots16(BufferCodes{c}, q, out);
}
#endif

// One block's exact dot product, for the blocks after the last full 16.
int32_t block_dot(const uint8_t* c, const int8_t* q) {
    int32_t s = 0;
    for (size_t i = 0; i < kQ8Block; ++i)
        s += static_cast<int32_t>(c[i]) * q[i];
    return s;
}

// combine_partials of the kSumLanes partials held in acc (partial a * W + l in lane l of
// acc[a]): the same pairwise additions as vector halves added.
inline float combine_acc(const F* acc) {
#if SUTRA_X86_LANES == 16
    const __m512 v = acc[0];
    const __m256 h8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
#elif SUTRA_X86_LANES == 8
    const __m256 h8 = _mm256_add_ps(acc[0], acc[1]);
#endif
#if SUTRA_X86_LANES == 16 || SUTRA_X86_LANES == 8
    const __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
#elif SUTRA_X86_LANES == 4
    const __m128 h4 = _mm_add_ps(_mm_add_ps(acc[0], acc[2]), _mm_add_ps(acc[1], acc[3]));
#endif
#if SUTRA_X86_LANES != 0
    const __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
#else
    alignas(64) float p[kSumLanes];
    for (size_t a = 0; a < kAcc; ++a)
        acc[a].store_aligned(p + a * W);
    return combine_partials(p);
#endif
}

void quantize_q8(const float* x, size_t n, int8_t* q, float* d, int32_t* sums) {
    static_assert(kQ8Block % W == 0, "a Q8 block must be whole vectors");
    const F big(3.40282347e38f), lo(-127.0f), hi(127.0f);
    for (size_t b = 0; b < n / kQ8Block; ++b) {
        const float* xb = x + b * kQ8Block;
        int8_t* qb = q + b * kQ8Block;
        F vmax(0.0f);
        auto finite = xsimd::abs(F::load_unaligned(xb)) <= big;
        for (size_t i = 0; i < kQ8Block; i += W) {
            const F a = xsimd::abs(F::load_unaligned(xb + i));
            finite = finite && (a <= big);
            vmax = xsimd::max(vmax, a);
        }
        alignas(64) float m[W];
        vmax.store_aligned(m);
        float amax = 0.0f;
        for (size_t j = 0; j < W; ++j)
            amax = max_f(amax, m[j]);
        const bool ok = xsimd::all(finite);
        const float db = ok ? amax / 127.0f : std::numeric_limits<float>::quiet_NaN();
        d[b] = db;
        if (!ok || db == 0.0f) {
            std::memset(qb, 0, kQ8Block);
            sums[b] = 0;
            continue;
        }
        const F vd(db);
        alignas(64) int32_t qi[kQ8Block];
        for (size_t i = 0; i < kQ8Block; i += W) {
            const F v =
                xsimd::min(xsimd::max(xsimd::nearbyint(F::load_unaligned(xb + i) / vd), lo), hi);
            xsimd::batch_cast<int32_t>(v).store_aligned(qi + i);
        }
        int32_t sum = 0;
        for (size_t i = 0; i < kQ8Block; ++i) {
            qb[i] = static_cast<int8_t>(qi[i]);
            sum += qi[i];
        }
        sums[b] = sum;
    }
}

// Per-thread buffers of one weight row: its codes as bytes, the zero point (i32) and f32 scale
// of each group, padded by kSumLanes for vector loads past the last group; per block only when
// blocks per group is not a power of two; and (code - zero) per weight for the f32 product.
struct RowScratch {
    std::vector<uint8_t> codes, zeros;
    std::vector<int32_t> group_zeros, block_zeros;
    std::vector<float> group_scales, block_scales, wz;
};

RowScratch& row_scratch() {
    thread_local RowScratch s;
    return s;
}

#if SUTRA_X86_LANES == 16
// 16 4-bit codes from the first 8 bytes of b, in code order (low nibble first).
__m128i nibbles16(__m128i b) {
    const __m128i m4 = _mm_set1_epi8(0x0f);
    return _mm_unpacklo_epi8(_mm_and_si128(b, m4), _mm_and_si128(_mm_srli_epi16(b, 4), m4));
}
#endif

// The row's zero points and scales per group.
void unpack_groups(const PackedRow& w, RowScratch& s) {
    s.zeros.resize(w.n_groups);
    s.group_zeros.resize(w.n_groups + kSumLanes);
    s.group_scales.resize(w.n_groups + kSumLanes);
#if SUTRA_X86_LANES == 16
    // 4-bit zeros (the generation case): 16 groups per step, straight from the packed bytes
    // and the F16 scales (vcvtph2ps is exact, as the generic conversion); masked loads for
    // the last, partial step never read past the row.
    if (w.bits == 4) {
        for (size_t g = 0; g < w.n_groups; g += 16) {
            const size_t n = std::min<size_t>(16, w.n_groups - g);
            const auto mask16 = static_cast<__mmask16>((1u << n) - 1);
            const auto mask8 = static_cast<__mmask16>((1u << ((n + 1) / 2)) - 1);
            const __m128i z = nibbles16(_mm_maskz_loadu_epi8(mask8, w.zeros + g / 2));
            _mm_mask_storeu_epi8(s.zeros.data() + g, mask16, z);
            _mm512_mask_storeu_epi32(s.group_zeros.data() + g, mask16, _mm512_cvtepu8_epi32(z));
            _mm512_mask_storeu_ps(s.group_scales.data() + g, mask16,
                                  _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask16, w.scales + g)));
        }
        return;
    }
#endif
    unpack_codes_row(w.zeros, w.n_groups, w.bits, s.zeros.data());
    f16_to_f32(w.scales, s.group_scales.data(), w.n_groups);
    for (size_t g = 0; g < w.n_groups; ++g)
        s.group_zeros[g] = s.zeros[g];
}

// Zero point and scale of each of blocks [j0, j0 + kSumLanes), j0 a multiple of kSumLanes:
// block j is in group j >> shift, gathered with a lane permute from the group values; or read
// per block (`per_block`: blocks per group not a power of two).
struct BlockGroups {
    const int32_t* zg;
    const float* sg;
    const int32_t* zb;
    const float* sb;
    unsigned shift;
    bool per_block;
#if SUTRA_X86_LANES == 16
    __m512i idx;
#elif SUTRA_X86_LANES == 8
    __m256i idx;
#elif SUTRA_X86_LANES == 4
    __m128i idx;  // a byte shuffle
#endif

    void init() {
#if SUTRA_X86_LANES == 16 || SUTRA_X86_LANES == 8
        alignas(64) int32_t v[W];
        for (size_t l = 0; l < W; ++l)
            v[l] = static_cast<int32_t>(l >> std::min(shift, 31u));
        std::memcpy(&idx, v, sizeof idx);
#elif SUTRA_X86_LANES == 4
        alignas(16) uint8_t v[16];
        for (size_t l = 0; l < 16; ++l)
            v[l] = static_cast<uint8_t>(4 * ((l / 4) >> std::min(shift, 31u)) + l % 4);
        std::memcpy(&idx, v, sizeof idx);
#endif
    }

    void get(size_t j0, I* z, F* s) const {
        if (per_block) {
            for (size_t a = 0; a < kAcc; ++a) {
                z[a] = I::load_unaligned(zb + j0 + a * W);
                s[a] = F::load_unaligned(sb + j0 + a * W);
            }
            return;
        }
#if SUTRA_X86_LANES == 16
        const size_t g0 = j0 >> shift;
        z[0] = _mm512_permutexvar_epi32(idx, _mm512_loadu_si512(zg + g0));
        s[0] = _mm512_permutexvar_ps(idx, _mm512_loadu_ps(sg + g0));
#elif SUTRA_X86_LANES == 8
        for (size_t a = 0; a < kAcc; ++a) {
            const size_t g0 = (j0 + a * W) >> shift;
            z[a] = _mm256_permutevar8x32_epi32(
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zg + g0)), idx);
            s[a] = _mm256_permutevar8x32_ps(_mm256_loadu_ps(sg + g0), idx);
        }
#elif SUTRA_X86_LANES == 4
        for (size_t a = 0; a < kAcc; ++a) {
            const size_t g0 = (j0 + a * W) >> shift;
            z[a] =
                _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(zg + g0)), idx);
            s[a] = _mm_castsi128_ps(
                _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sg + g0)), idx));
        }
#else
        for (size_t a = 0; a < kAcc; ++a) {
            alignas(64) int32_t zz[W];
            alignas(64) float ss[W];
            for (size_t l = 0; l < W; ++l) {
                zz[l] = zg[(j0 + a * W + l) >> shift];
                ss[l] = sg[(j0 + a * W + l) >> shift];
            }
            z[a] = I::load_aligned(zz);
            s[a] = F::load_aligned(ss);
        }
#endif
    }
};

BlockGroups block_groups(const PackedRow& w, RowScratch& s, size_t nb) {
    const size_t per_group = w.group / kQ8Block;
    BlockGroups m{};
    m.zg = s.group_zeros.data();
    m.sg = s.group_scales.data();
    m.per_block = (per_group & (per_group - 1)) != 0;
    m.shift = static_cast<unsigned>(std::countr_zero(per_group));
    m.init();
    if (m.per_block) {
        s.block_zeros.resize(nb + kSumLanes);
        s.block_scales.resize(nb + kSumLanes);
        for (size_t j = 0; j < nb; ++j) {
            s.block_zeros[j] = s.group_zeros[j / per_group];
            s.block_scales[j] = s.group_scales[j / per_group];
        }
        m.zb = s.block_zeros.data();
        m.sb = s.block_scales.data();
    }
    return m;
}

// Generation streams each weight row from memory once: the cores' prefetchers alone leave the
// loads waiting (rows are handed out in runs of 16, so each core's stream jumps), so while it
// multiplies 16 blocks the kernel asks for the bytes kPrefetchAhead past them, which are those
// of the row after next on a 2048-wide 4-bit matrix (1B generate: 27.4 -> 31.3 tok/s; a burst
// for the whole next row at the start of a row was slower than none). A prefetch past the
// matrix's end is harmless: it never faults.
constexpr size_t kPrefetchAhead = 2048;
struct RowPrefetch {
    const uint8_t* codes;  // nullptr: none
    size_t block_bytes;    // packed bytes of one 32-value block
    void ahead(size_t j) const {
        if (!codes) return;
        const uint8_t* a = codes + j * block_bytes + kPrefetchAhead;
        for (size_t c = 0; c < kSumLanes * block_bytes; c += 64)
            __builtin_prefetch(a + c, 0, 3);
    }
};

// Activation rows [0, n_x) against one weight row, whose codes `codes` hands out; `bytes` are
// the same codes as bytes (for the blocks after the last 16), `wide` picks the wide products.
// dots(t, j, q, out): the 16 block dots of blocks [j, j + 16) with activation row t (q).
// `pf` is asked ahead on the first row only (the others find the codes in cache).
template <class Dots>
void dot_q8_rows(const Dots& dots16, const uint8_t* bytes, const BlockGroups& m, size_t nb,
                 const Q8Rows& x, size_t n_x, float* y, size_t y_stride, RowPrefetch pf = {}) {
    for (size_t t = 0; t < n_x; ++t, pf.codes = nullptr) {
        const int8_t* q = x.q + t * x.cols;
        const float* d = x.d + t * nb;
        const int32_t* sums = x.sums + t * nb;
        F acc[kAcc];
        for (size_t a = 0; a < kAcc; ++a)
            acc[a] = F(0.0f);
        size_t j = 0;
        alignas(64) int32_t dots[kSumLanes];
        for (; j + kSumLanes <= nb; j += kSumLanes) {
            pf.ahead(j);
            dots16(t, j, q, dots);
            I z[kAcc];
            F s[kAcc];
            m.get(j, z, s);
            for (size_t a = 0; a < kAcc; ++a) {
                const size_t k = j + a * W;
                const I i = I::load_aligned(dots + a * W) - z[a] * I::load_unaligned(sums + k);
                acc[a] += (xsimd::batch_cast<float>(i) * F::load_unaligned(d + k)) * s[a];
            }
        }
        if (j == nb) {
            y[t * y_stride] = combine_acc(acc);
            continue;
        }
        alignas(64) float p[kSumLanes];
        for (size_t a = 0; a < kAcc; ++a)
            acc[a].store_aligned(p + a * W);
        for (size_t lane = 0; j < nb; ++j, ++lane) {
            const auto g = static_cast<size_t>(j >> m.shift);
            const int32_t zero = m.per_block ? m.zb[j] : m.zg[g];
            const float scale = m.per_block ? m.sb[j] : m.sg[g];
            const int32_t i = block_dot(bytes + j * kQ8Block, q + j * kQ8Block) - zero * sums[j];
            p[lane] += (static_cast<float>(i) * d[j]) * scale;
        }
        y[t * y_stride] = combine_partials(p);
    }
}

#if SUTRA_X86_LANES == 16
// BlockGroups' values for a 4-bit row read straight from the row, F16 scales and packed zero
// points, with no unpacking into scratch first (whose stores the loads would wait for): the
// groups of blocks [j0, j0 + 16) are 16 >> shift consecutive ones from g0 = j0 >> shift (one
// when shift >= 4), so 16 nibbles from byte g0 / 2 hold them, the first one at g0 % 2.
// Power-of-two blocks per group only; the same values as BlockGroups.
struct Packed4Groups {
    const uint16_t* scales;
    const uint8_t* zeros;
    size_t n_groups;
    unsigned shift;
    __m512i idx;

    Packed4Groups(const PackedRow& w, unsigned shift_)
        : scales(w.scales), zeros(w.zeros), n_groups(w.n_groups), shift(shift_) {
        alignas(64) int32_t v[16];
        for (size_t l = 0; l < 16; ++l)
            v[l] = static_cast<int32_t>(l >> std::min(shift, 31u));
        idx = _mm512_load_si512(v);
    }

    void get(size_t j0, I* z, F* s) const {
        const size_t g0 = j0 >> shift;
        const size_t n = std::min<size_t>(16, n_groups - g0);
        const auto mask = static_cast<__mmask16>((1u << n) - 1);
        s[0] = _mm512_permutexvar_ps(idx,
                                     _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, scales + g0)));
        const size_t first = g0 % 2;
        const size_t bytes = std::min<size_t>(8, (first + n + 1) / 2);
        const __m128i nib = nibbles16(
            _mm_maskz_loadu_epi8(static_cast<__mmask16>((1u << bytes) - 1), zeros + g0 / 2));
        z[0] = _mm512_permutexvar_epi32(
            _mm512_add_epi32(idx, _mm512_set1_epi32(static_cast<int32_t>(first))),
            _mm512_cvtepu8_epi32(nib));
    }
};

// dot_q8_rows for a 4-bit row read in place (activations in nibble order), any multiple of 4
// blocks: a last step of fewer than 16 blocks adds only its own lanes (a masked add), so
// each block lands in the lane and order of dot_q8_rows' tail, the same bits.
void dot_q8_rows_nib4(const PackedRow& w, const Packed4Groups& m, size_t nb, const Q8Rows& x,
                      size_t n_x, float* y, size_t y_stride) {
    const RowPrefetch pf{w.codes, kQ8Block / 2};
    for (size_t t = 0; t < n_x; ++t) {
        const int8_t* qn = x.qn + t * x.cols;
        const float* d = x.d + t * nb;
        const int32_t* sums = x.sums + t * nb;
        F acc[1] = {F(0.0f)};
        alignas(64) int32_t dots[kSumLanes];
        for (size_t j = 0; j < nb; j += kSumLanes) {
            const size_t n = std::min<size_t>(kSumLanes, nb - j);
            const auto mask = static_cast<__mmask16>((1u << n) - 1);
            if (t == 0) pf.ahead(j);
            block_dots16_nib(w.codes + j * kQ8Block / 2, qn + j * kQ8Block, dots, n / 4);
            I z[1];
            F s[1];
            m.get(j, z, s);
            const __m512i i = _mm512_sub_epi32(
                _mm512_load_si512(dots),
                _mm512_mullo_epi32(z[0], _mm512_maskz_loadu_epi32(mask, sums + j)));
            const __m512 c = _mm512_mul_ps(
                _mm512_mul_ps(_mm512_cvtepi32_ps(i), _mm512_maskz_loadu_ps(mask, d + j)), s[0]);
            acc[0] = _mm512_mask_add_ps(acc[0], mask, acc[0], c);
        }
        y[t * y_stride] = combine_acc(acc);
    }
}
#endif

// Codes of blocks [j, j + 16) for block_dots16, from bytes or from the packed 4-bit row.
struct BytesAt {
    const uint8_t* c;
    BufferCodes at(size_t j) const { return BufferCodes{c + j * kQ8Block}; }
};
#if SUTRA_X86_LANES != 0
struct Packed4At {
    const uint8_t* p;
    Packed4Codes at(size_t j) const { return Packed4Codes{p + j * kQ8Block / 2}; }
};
#endif

// Activation rows up to this count read a 4-bit row's codes in place, decoding them for each
// row; more unpack the codes to bytes once.
constexpr size_t kInPlaceRows = 2;

// Block dots from codes as bytes (narrow or wide products) or from a 4-bit packed row.
template <class Codes>
auto narrow_dots(const Codes& codes) {
    return [codes](size_t, size_t j, const int8_t* q, int32_t* out) {
        block_dots16(codes.at(j), q + j * kQ8Block, out);
    };
}
auto wide_dots(const uint8_t* bytes) {
    return [bytes](size_t, size_t j, const int8_t* q, int32_t* out) {
        block_dots16_wide(bytes + j * kQ8Block, q + j * kQ8Block, out);
    };
}

void packed_dot_q8(const PackedRow& w, const Q8Rows& x, size_t n_x, float* y, size_t y_stride) {
    const size_t nb = w.cols / kQ8Block;
#if SUTRA_X86_LANES == 16
    // Generation on a 4-bit row: the nibbles in place, the groups straight from the row.
    const size_t per_group = w.group / kQ8Block;
    if (w.bits == 4 && n_x <= kInPlaceRows && x.qn && nb % 4 == 0 &&
        (per_group & (per_group - 1)) == 0) {
        const Packed4Groups m(w, static_cast<unsigned>(std::countr_zero(per_group)));
        dot_q8_rows_nib4(w, m, nb, x, n_x, y, y_stride);
        return;
    }
#endif
    RowScratch& s = row_scratch();
    unpack_groups(w, s);
    const BlockGroups m = block_groups(w, s, nb);
    if (w.bits == 8) {
        dot_q8_rows(wide_dots(w.codes), w.codes, m, nb, x, n_x, y, y_stride, {w.codes, kQ8Block});
        return;
    }
#if SUTRA_X86_LANES != 0
    if (w.bits == 4 && n_x <= kInPlaceRows && nb % kSumLanes == 0) {
#if SUTRA_X86_LANES >= 8
        if (x.qn) {
            const auto nib = [&w, &x](size_t t, size_t j, const int8_t*, int32_t* out) {
                block_dots16_nib(w.codes + j * kQ8Block / 2, x.qn + t * x.cols + j * kQ8Block, out);
            };
            dot_q8_rows(nib, nullptr, m, nb, x, n_x, y, y_stride, {w.codes, kQ8Block / 2});
            return;
        }
#endif
        dot_q8_rows(narrow_dots(Packed4At{w.codes}), nullptr, m, nb, x, n_x, y, y_stride,
                    {w.codes, kQ8Block / 2});
        return;
    }
#endif
    s.codes.resize(w.cols);
    unpack_codes_row(w.codes, w.cols, w.bits, s.codes.data());
    if (w.bits <= 4)
        dot_q8_rows(narrow_dots(BytesAt{s.codes.data()}), s.codes.data(), m, nb, x, n_x, y,
                    y_stride);
    else
        dot_q8_rows(wide_dots(s.codes.data()), s.codes.data(), m, nb, x, n_x, y, y_stride);
}

// The token-parallel product (packed_dot_q8_panel): lane l of a vector is panel row h * W + l,
// so each lane follows one row's fixed order and no horizontal sum is needed. Per block, the
// eight 4-code groups are each broadcast and multiplied with the panel's 4 values of every row
// (u8 x s8 multiply-add), summed in 16 bits (narrow codes: 8 * 2 * 15 * 127 stays below 32767)
// and widened once; wide codes go as two nibbles, code = 16 * high + low.
#if SUTRA_X86_LANES == 16
template <bool Wide>
inline I panel_block_dots(const uint8_t* c, const int8_t* qj, size_t) {
    const __m512i ones = _mm512_set1_epi16(1);
    __m512i lo = _mm512_setzero_si512(), hi = lo;
    for (size_t k = 0; k < 8; ++k) {
        uint32_t word;
        std::memcpy(&word, c + 4 * k, 4);
        const __m512i qv = _mm512_loadu_si512(qj + 64 * k);
        if constexpr (Wide) {
            lo = _mm512_add_epi16(
                lo, _mm512_maddubs_epi16(_mm512_set1_epi32(int(word & 0x0f0f0f0fu)), qv));
            hi = _mm512_add_epi16(
                hi, _mm512_maddubs_epi16(_mm512_set1_epi32(int((word >> 4) & 0x0f0f0f0fu)), qv));
        } else {
            lo = _mm512_add_epi16(lo, _mm512_maddubs_epi16(_mm512_set1_epi32(int(word)), qv));
        }
    }
    __m512i r = _mm512_madd_epi16(lo, ones);
    if constexpr (Wide) r = _mm512_add_epi32(r, _mm512_slli_epi32(_mm512_madd_epi16(hi, ones), 4));
    return r;
}
#elif SUTRA_X86_LANES == 8
template <bool Wide>
inline I panel_block_dots(const uint8_t* c, const int8_t* qj, size_t h) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i lo = _mm256_setzero_si256(), hi = lo;
    for (size_t k = 0; k < 8; ++k) {
        uint32_t word;
        std::memcpy(&word, c + 4 * k, 4);
        const __m256i qv =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qj + 64 * k + 32 * h));
        if constexpr (Wide) {
            lo = _mm256_add_epi16(
                lo, _mm256_maddubs_epi16(_mm256_set1_epi32(int(word & 0x0f0f0f0fu)), qv));
            hi = _mm256_add_epi16(
                hi, _mm256_maddubs_epi16(_mm256_set1_epi32(int((word >> 4) & 0x0f0f0f0fu)), qv));
        } else {
            lo = _mm256_add_epi16(lo, _mm256_maddubs_epi16(_mm256_set1_epi32(int(word)), qv));
        }
    }
    __m256i r = _mm256_madd_epi16(lo, ones);
    if constexpr (Wide) r = _mm256_add_epi32(r, _mm256_slli_epi32(_mm256_madd_epi16(hi, ones), 4));
    return r;
}
#elif SUTRA_X86_LANES == 4
template <bool Wide>
inline I panel_block_dots(const uint8_t* c, const int8_t* qj, size_t h) {
    const __m128i ones = _mm_set1_epi16(1);
    __m128i lo = _mm_setzero_si128(), hi = lo;
    for (size_t k = 0; k < 8; ++k) {
        uint32_t word;
        std::memcpy(&word, c + 4 * k, 4);
        const __m128i qv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qj + 64 * k + 16 * h));
        if constexpr (Wide) {
            lo = _mm_add_epi16(lo, _mm_maddubs_epi16(_mm_set1_epi32(int(word & 0x0f0f0f0fu)), qv));
            hi = _mm_add_epi16(
                hi, _mm_maddubs_epi16(_mm_set1_epi32(int((word >> 4) & 0x0f0f0f0fu)), qv));
        } else {
            lo = _mm_add_epi16(lo, _mm_maddubs_epi16(_mm_set1_epi32(int(word)), qv));
        }
    }
    __m128i r = _mm_madd_epi16(lo, ones);
    if constexpr (Wide) r = _mm_add_epi32(r, _mm_slli_epi32(_mm_madd_epi16(hi, ones), 4));
    return r;
}
#else
template <bool Wide>
inline I panel_block_dots(const uint8_t* c, const int8_t* qj, size_t h) {
    alignas(64) int32_t v[W];
    for (size_t l = 0; l < W; ++l) {
        const size_t t = h * W + l;
        int32_t s = 0;
        for (size_t i = 0; i < kQ8Block; ++i)
            s += static_cast<int32_t>(c[i]) * qj[((i / 4) * kQ8Panel + t) * 4 + i % 4];
        v[l] = s;
    }
    return I::load_aligned(v);
}
#endif

template <bool Wide>
void panel_rows(const uint8_t* codes, const RowScratch& s, size_t per_group, size_t nb,
                const Q8Panel& x, size_t n, float* y, size_t y_stride) {
    static_assert(kQ8Panel % W == 0, "a panel must be whole vectors");
    for (size_t h = 0; h * W < n; ++h) {
        F acc[kSumLanes];  // partial j % kSumLanes of W rows
        for (size_t u = 0; u < kSumLanes; ++u)
            acc[u] = F(0.0f);
        size_t g = 0, in_group = 0;
        for (size_t j0 = 0; j0 < nb; j0 += kSumLanes) {
            for (size_t u = 0; u < kSumLanes && j0 + u < nb; ++u) {
                const size_t j = j0 + u;
                const size_t at = j * kQ8Panel + h * W;
                const I dot =
                    panel_block_dots<Wide>(codes + j * kQ8Block, x.q + j * kQ8Block * kQ8Panel, h);
                // cvt(dot) - zero * sum is exact in f32 (integers below 2^24), so it is
                // f32(dot - zero * sum), as the reference computes it.
                const F i =
                    xsimd::batch_cast<float>(dot) -
                    F(static_cast<float>(s.group_zeros[g])) * F::load_unaligned(x.sums + at);
                acc[u] += (i * F::load_unaligned(x.d + at)) * F(s.group_scales[g]);
                if (++in_group == per_group) {
                    ++g;
                    in_group = 0;
                }
            }
        }
        for (size_t step = kSumLanes / 2; step >= 1; step /= 2)
            for (size_t u = 0; u < step; ++u)
                acc[u] += acc[u + step];
        alignas(64) float out[W];
        acc[0].store_aligned(out);
        for (size_t l = 0; l < W && h * W + l < n; ++l)
            y[(h * W + l) * y_stride] = out[l];
    }
}

void packed_dot_q8_panel(const PackedRow& w, const Q8Panel& x, size_t n, float* y,
                         size_t y_stride) {
    RowScratch& s = row_scratch();
    const size_t nb = w.cols / kQ8Block;
    unpack_groups(w, s);
    const uint8_t* codes = w.codes;
    if (w.bits != 8) {
        s.codes.resize(w.cols);
        unpack_codes_row(w.codes, w.cols, w.bits, s.codes.data());
        codes = s.codes.data();
    }
    const size_t per_group = w.group / kQ8Block;
    if (w.bits <= 4)
        panel_rows<false>(codes, s, per_group, nb, x, n, y, y_stride);
    else
        panel_rows<true>(codes, s, per_group, nb, x, n, y, y_stride);
}

void packed_dot_f32(const PackedRow& w, const float* x, size_t x_stride, size_t n_x, float* y,
                    size_t y_stride) {
    RowScratch& s = row_scratch();
    s.codes.resize(w.cols);
    unpack_codes_row(w.codes, w.cols, w.bits, s.codes.data());
    unpack_groups(w, s);
    s.wz.resize(w.cols);
    const uint8_t* codes = s.codes.data();
    float* wz = s.wz.data();
    for (size_t g = 0; g < w.n_groups; ++g) {
        const size_t start = g * w.group;
        const size_t width = g + 1 < w.n_groups ? w.group : w.cols - start;
        const auto zero = static_cast<float>(s.zeros[g]);
        const F z(zero);
        size_t i = 0;
        for (; i + W <= width; i += W)
            (xsimd::batch_cast<float>(load_u8(codes + start + i)) - z)
                .store_unaligned(wz + start + i);
        for (; i < width; ++i)
            wz[start + i] = static_cast<float>(codes[start + i]) - zero;
    }
    for (size_t t = 0; t < n_x; ++t) {
        const float* xt = x + t * x_stride;
        float total = 0.0f;
        for (size_t g = 0; g < w.n_groups; ++g) {
            const size_t start = g * w.group;
            const size_t width = g + 1 < w.n_groups ? w.group : w.cols - start;
            const float* wg = wz + start;
            const float* xg = xt + start;
            F acc[kAcc];
            for (size_t a = 0; a < kAcc; ++a)
                acc[a] = F(0.0f);
            size_t i = 0;
            for (; i + kSumLanes <= width; i += kSumLanes)
                for (size_t a = 0; a < kAcc; ++a)
                    acc[a] += F::load_unaligned(wg + i + a * W) * F::load_unaligned(xg + i + a * W);
            float sum;
            if (i == width) {
                sum = combine_acc(acc);
            } else {
                alignas(64) float p[kSumLanes];
                for (size_t a = 0; a < kAcc; ++a)
                    acc[a].store_aligned(p + a * W);
                for (size_t lane = 0; i < width; ++i, ++lane)
                    p[lane] += wg[i] * xg[i];
                sum = combine_partials(p);
            }
            total += sum * s.group_scales[g];
        }
        y[t * y_stride] = total;
    }
}

// ---- Round-to-nearest of a row from its stored values (rtn_row) ----
//
// Per chunk of up to kRtnChunk groups, three steps over values that stay in cache: (1) widen
// each group's values and take its min and max, and the largest magnitude's bits (the finite
// check); (2) the scales and zero points of W groups at a time, with integer and f32
// operations that equal the reference's (base/half.cpp's conversions, for positive finite
// scales); (3) widen the values again and round y = x * fl(1 / scale) instead of x / scale,
// dividing only a vector that has a lane near a half-integer; then + zero, clamp, and the codes
// go straight into their packed bytes.
//
// Why the product gives rint(x / scale): y = (x / s)(1 + d) with |d| <= 3.0000003 * 2^-24 (the
// roundings of fl(1 / s) and of the product), and t = fl(x / s) is within 2^-24 |x / s| of
// x / s, so |y - t| < 2^-21 |y|. For |y| < 1024 that is below 2^-11: when y is farther than
// that from every half-integer (|y - rint(y)| < 0.5 - 2^-11, where y - rint(y) is exact), t
// lies strictly between the same two half-integers, and rint(t) = rint(y). For |y| >= 1024 (or
// infinite) t has y's sign and |t| > 1023, so with zero <= 255 both clamp to the same end. A
// tiny or subnormal y is near 0, not near a half-integer.
constexpr size_t kRtnChunk = 64;  // groups per chunk, a multiple of W
constexpr float kRtnTie = 0.5f - 0x1p-11f;

template <RowFormat Fmt>
inline F rtn_load(const void* values, size_t i) {
    if constexpr (Fmt == RowFormat::f32) {
        return F::load_unaligned(static_cast<const float*>(values) + i);
    } else if constexpr (Fmt == RowFormat::bf16) {
        return xsimd::bitwise_cast<F>(load_u16(static_cast<const uint16_t*>(values) + i) << 16);
    } else {
        const uint16_t* p = static_cast<const uint16_t*>(values) + i;
#if SUTRA_X86_LANES == 16
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
#else
        // As f16_to_f32 above.
        const I h = load_u16(p);
        const I mag = h & I(0x7fff);
        const I shifted = mag << 13;
        const I tiny = xsimd::bitwise_cast<I>(xsimd::batch_cast<float>(mag) * F(0x1p-24f));
        const I bits =
            xsimd::select(mag >= I(0x7c00), shifted | I(0x7f800000),
                          xsimd::select(mag < I(0x0400), tiny, shifted + I((127 - 15) << 23)));
        return xsimd::bitwise_cast<F>(bits | ((h & I(0x8000)) << 16));
#endif
    }
}

template <RowFormat Fmt>
inline float rtn_scalar(const void* values, size_t i) {
    if constexpr (Fmt == RowFormat::f32)
        return static_cast<const float*>(values)[i];
    else if constexpr (Fmt == RowFormat::bf16)
        return sutra::bf16_to_f32(static_cast<const uint16_t*>(values)[i]);
    else
        return sutra::f16_to_f32(static_cast<const uint16_t*>(values)[i]);
}

inline float rtn_hmin(const F& v) {
#if SUTRA_X86_LANES == 16
    return _mm512_reduce_min_ps(v);
#elif SUTRA_X86_LANES == 8
    __m128 a = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_min_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_min_ss(a, _mm_shuffle_ps(a, a, 1)));
#elif SUTRA_X86_LANES == 4
    const __m128 a = _mm_min_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_min_ss(a, _mm_shuffle_ps(a, a, 1)));
#else
    alignas(64) float t[W];
    v.store_aligned(t);
    float m = t[0];
    for (size_t l = 1; l < W; ++l)
        m = min_f(m, t[l]);
    return m;
#endif
}

inline float rtn_hmax(const F& v) {
#if SUTRA_X86_LANES == 16
    return _mm512_reduce_max_ps(v);
#elif SUTRA_X86_LANES == 8
    __m128 a = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_max_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_max_ss(a, _mm_shuffle_ps(a, a, 1)));
#elif SUTRA_X86_LANES == 4
    const __m128 a = _mm_max_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_max_ss(a, _mm_shuffle_ps(a, a, 1)));
#else
    alignas(64) float t[W];
    v.store_aligned(t);
    float m = t[0];
    for (size_t l = 1; l < W; ++l)
        m = max_f(m, t[l]);
    return m;
#endif
}

// The F16 scale (bits and value), its reciprocal and the zero point of W groups from their
// ranges, as quant::rtn_group_params; false when a scale does not fit an F16.
struct RtnParams {
    I s16;
    F scale, inv, zero;
};

inline bool rtn_params(const F& lo, const F& hi, float qmax, RtnParams& p) {
    const F span = xsimd::max(hi - lo, F(1e-5f)) / F(qmax);
    if (!xsimd::all(span <= F(65504.0f))) return false;
    // f32_to_f16 of a positive finite value below 65504: a normal half keeps the top mantissa
    // bits, rounded to nearest even; a subnormal one is span * 2^24 (exact) rounded likewise.
    const I b = xsimd::bitwise_cast<I>(span);
    const I r = b - I(0x38000000);
    const I normal = (r + I(0xfff) + ((r >> 13) & I(1))) >> 13;
    const I sub = xsimd::batch_cast<int32_t>(xsimd::nearbyint(span * F(0x1p24f)));
    const I h = xsimd::max(xsimd::select(b >= I(0x38800000), normal, sub), I(1));
    // And back: f16_to_f32 of a positive finite half.
    const I wide = (h << 13) + I((127 - 15) << 23);
    const I tiny = xsimd::bitwise_cast<I>(xsimd::batch_cast<float>(h) * F(0x1p-24f));
    p.s16 = h;
    p.scale = xsimd::bitwise_cast<F>(xsimd::select(h >= I(0x400), wide, tiny));
    p.inv = F(1.0f) / p.scale;
    p.zero = xsimd::min(xsimd::max(xsimd::nearbyint(-lo / p.scale), F(0.0f)), F(qmax));
    return true;
}

// Codes c (each below 16) of row positions [k, k + W), k even, into their 4-bit packed bytes
// out[k / 2 .. + W / 2): adjacent lanes pair up as the two halves of a 64-bit lane.
inline void rtn_store_nibbles(const I& c, uint8_t* out) {
#if SUTRA_X86_LANES == 16
    const __m512i p = _mm512_or_si512(c, _mm512_srli_epi64(c, 28));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm512_cvtepi64_epi8(p));
#elif SUTRA_X86_LANES == 8
    const __m256i p = _mm256_or_si256(c, _mm256_srli_epi64(c, 28));
    const __m256i pick =
        _mm256_setr_epi8(0, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 8, -1, -1,
                         -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i b = _mm256_shuffle_epi8(p, pick);
    const int32_t four = _mm_cvtsi128_si32(
        _mm_unpacklo_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1)));
    std::memcpy(out, &four, 4);
#elif SUTRA_X86_LANES == 4
    const __m128i p = _mm_or_si128(c, _mm_srli_epi64(c, 28));
    const __m128i pick =
        _mm_setr_epi8(0, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const auto two = static_cast<uint16_t>(_mm_cvtsi128_si32(_mm_shuffle_epi8(p, pick)));
    std::memcpy(out, &two, 2);
#else
    alignas(64) int32_t t[W];
    c.store_aligned(t);
    for (size_t j = 0; j < W / 2; ++j)
        out[j] = static_cast<uint8_t>(t[2 * j] | t[2 * j + 1] << 4);
#endif
}

// n codes (one per byte) bit-packed as quant/layout.hpp says; every output byte is written.
void rtn_pack_bits(const uint8_t* c, size_t n, int bits, uint8_t* out) {
    const auto nb = static_cast<size_t>(bits);
    size_t k = 0;
    if (bits == 3) {  // 8 codes in each 3 bytes
        for (; k + 8 <= n; k += 8) {
            uint32_t v = 0;
            for (uint32_t m = 0; m < 8; ++m)
                v |= static_cast<uint32_t>(c[k + m]) << (3 * m);
            uint8_t* b = out + k / 8 * 3;
            b[0] = static_cast<uint8_t>(v);
            b[1] = static_cast<uint8_t>(v >> 8);
            b[2] = static_cast<uint8_t>(v >> 16);
        }
    }
    std::memset(out + k * nb / 8, 0, (n * nb + 7) / 8 - k * nb / 8);
    for (; k < n; ++k) {
        const size_t bit = k * nb;
        const uint32_t v = static_cast<uint32_t>(c[k]) << (bit & 7);
        out[bit >> 3] |= static_cast<uint8_t>(v & 0xffu);
        if ((bit & 7) + nb > 8) out[(bit >> 3) + 1] |= static_cast<uint8_t>(v >> 8);
    }
}

// Mode 0: 4-bit codes packed as they are made (every group starts at an even column); 1: 8-bit
// codes stored as bytes; 2: codes into `buf` (cols bytes), bit-packed at the end.
template <RowFormat Fmt, int Mode>
bool rtn_row_as(const RtnRow& r, uint8_t* buf) {
    const float qmax = static_cast<float>((1u << r.bits) - 1u);
    uint8_t* out = Mode == 2 ? buf : r.codes;
    alignas(64) float lo[kRtnChunk], hi[kRtnChunk], sc[kRtnChunk], inv[kRtnChunk], zr[kRtnChunk];
    alignas(64) int32_t s16[kRtnChunk];
    for (size_t g0 = 0; g0 < r.n_groups; g0 += kRtnChunk) {
        const size_t m = std::min(kRtnChunk, r.n_groups - g0);
        const auto width_of = [&](size_t j) {
            const size_t start = (g0 + j) * r.group;
            return g0 + j + 1 < r.n_groups ? r.group : r.cols - start;
        };
        I mag(0);
        bool finite = true;
        for (size_t j = 0; j < m; ++j) {
            const size_t start = (g0 + j) * r.group, width = width_of(j);
            size_t i = 0;
            float a = 0, b = 0;
            if (width >= W) {
                F vlo = rtn_load<Fmt>(r.values, start), vhi = vlo;
                mag = xsimd::max(mag, xsimd::bitwise_cast<I>(vlo) & I(0x7fffffff));
                for (i = W; i + W <= width; i += W) {
                    const F v = rtn_load<Fmt>(r.values, start + i);
                    mag = xsimd::max(mag, xsimd::bitwise_cast<I>(v) & I(0x7fffffff));
                    vlo = xsimd::min(vlo, v);
                    vhi = xsimd::max(vhi, v);
                }
                a = rtn_hmin(vlo);
                b = rtn_hmax(vhi);
            } else {
                a = b = rtn_scalar<Fmt>(r.values, start);
            }
            for (; i < width; ++i) {
                const float v = rtn_scalar<Fmt>(r.values, start + i);
                finite = finite && std::isfinite(v);
                a = min_f(a, v);
                b = max_f(b, v);
            }
            lo[j] = a;
            hi[j] = b;
        }
        if (!finite || xsimd::any(mag >= I(0x7f800000))) return false;  // the exponent all ones
        for (size_t j = m; j % W; ++j)
            lo[j] = hi[j] = 0.0f;
        for (size_t j = 0; j < m; j += W) {
            RtnParams p;
            if (!rtn_params(F::load_aligned(lo + j), F::load_aligned(hi + j), qmax, p))
                return false;
            p.s16.store_aligned(s16 + j);
            p.scale.store_aligned(sc + j);
            p.inv.store_aligned(inv + j);
            p.zero.store_aligned(zr + j);
        }
        for (size_t j = 0; j < m; ++j) {
            r.scales[g0 + j] = static_cast<uint16_t>(s16[j]);
            r.zeros[g0 + j] = static_cast<uint8_t>(zr[j]);
        }
        for (size_t j = 0; j < m; ++j) {
            const size_t start = (g0 + j) * r.group, width = width_of(j);
            const F s(sc[j]), rcp(inv[j]), z(zr[j]), top(qmax), none(0.0f), tie(kRtnTie),
                far(1024.0f);
            size_t i = 0;
            for (; i + W <= width; i += W) {
                const F v = rtn_load<Fmt>(r.values, start + i);
                const F y = v * rcp;
                F q = xsimd::nearbyint(y);
                if (xsimd::any((xsimd::abs(y - q) >= tie) && (xsimd::abs(y) < far)))
                    q = xsimd::nearbyint(v / s);
                const I c = xsimd::batch_cast<int32_t>(xsimd::min(xsimd::max(q + z, none), top));
                if constexpr (Mode == 0)
                    rtn_store_nibbles(c, out + (start + i) / 2);
                else
                    store_u8(c, out + start + i);
            }
            for (; i < width; ++i) {
                const size_t k = start + i;
                const float v = std::rint(rtn_scalar<Fmt>(r.values, k) / sc[j]) + zr[j];
                const auto c = static_cast<uint8_t>(min_f(max_f(v, 0.0f), qmax));
                if constexpr (Mode == 0) {
                    if (k & 1)
                        out[k >> 1] = static_cast<uint8_t>(out[k >> 1] | c << 4);
                    else
                        out[k >> 1] = c;
                } else {
                    out[k] = c;
                }
            }
        }
    }
    if constexpr (Mode == 2) rtn_pack_bits(buf, r.cols, r.bits, r.codes);
    return true;
}

template <int Mode>
bool rtn_row_mode(const RtnRow& r, uint8_t* buf) {
    switch (r.format) {
        case RowFormat::f16:
            return rtn_row_as<RowFormat::f16, Mode>(r, buf);
        case RowFormat::bf16:
            return rtn_row_as<RowFormat::bf16, Mode>(r, buf);
        case RowFormat::f32:
            break;
    }
    return rtn_row_as<RowFormat::f32, Mode>(r, buf);
}

bool rtn_row(const RtnRow& r) {
    if (r.bits == 8) return rtn_row_mode<1>(r, nullptr);
    if (r.bits == 4 && (r.group % 2 == 0 || r.n_groups == 1)) return rtn_row_mode<0>(r, nullptr);
    thread_local std::vector<uint8_t> buf;
    buf.resize(r.cols);
    return rtn_row_mode<2>(r, buf.data());
}

}  // namespace

const Kernels& kernels() {
    static const Kernels k{SUTRA_SIMD_NAME, f16_to_f32,
                           bf16_to_f32,     min_max,
                           quantize,        dequantize,
                           pack4,           unpack4,
                           error_sums,      dot,
                           sq_diff,         quantize_q8,
                           packed_dot_q8,   packed_dot_q8_panel,
                           packed_dot_f32,  rtn_row};
    return k;
}

}  // namespace sutra::simd::SUTRA_SIMD_NS
