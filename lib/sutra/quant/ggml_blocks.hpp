#pragma once
// Internal to quant/ggml_*.cpp: one encoder and one decoder per GGUF block type, and the
// helpers they share. The public entry points (row validation, the type table) are in
// ggml_types.hpp; the bit layout of every block is in lib/sutra/format/GGUF.md.
//
// Block encoders take x[block_elems] (finite) and w = null or block_elems non-negative finite
// importance weights; they write exactly block_bytes and return false only when a block scale
// does not fit an F16 (the values are too large for the type).
#include <algorithm>
#include <cstdint>

#include "sutra/base/half.hpp"

namespace sutra::quant::ggml {

// Little-endian F16 fields.
inline void put_f16(uint8_t* p, uint16_t h) {
    p[0] = static_cast<uint8_t>(h & 0xffu);
    p[1] = static_cast<uint8_t>(h >> 8);
}
inline uint16_t get_f16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
inline float get_f16_f32(const uint8_t* p) {
    return f16_to_f32(get_f16(p));
}
// f32 -> f16 -> f32 (round to nearest even).
inline float round_f16(float v) {
    return f16_to_f32(f32_to_f16(v));
}
inline bool f16_finite(uint16_t h) {
    return (h & 0x7c00u) != 0x7c00u;
}

// Nearest integer, ties to even, of v clamped to [lo, hi] (|lo|, |hi| < 2^22). Uses the
// float-add trick, so no libm call; the clamp first keeps it exact (NaN gives lo).
inline int nearest_clamped(float v, int lo, int hi) {
    const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
    v = v > flo ? v : flo;
    v = v < fhi ? v : fhi;
    const float r = (v + 12582912.0f) - 12582912.0f;
    return static_cast<int>(r);
}

// The low byte of C's float -> int32 conversion as x86 does it (cvttss2si: truncation toward
// zero, 0x80000000 for NaN and out-of-range values), reinterpreted as int8: what llama.cpp's
// `(int8_t)(v)` / `(uint8_t)(v)` give on x86-64. In range it is plain truncation.
inline int trunc_low_byte_i8(float v) {
    int32_t t = INT32_MIN;
    if (v > -2147483648.0f && v < 2147483648.0f) t = static_cast<int32_t>(v);
    return static_cast<int8_t>(static_cast<uint8_t>(static_cast<uint32_t>(t) & 0xffu));
}

// C's roundf (half away from zero) for |v| < 2^22, as an int; 0 for NaN and larger |v| (the
// low byte x86 stores for an invalid conversion; unreachable with finite 1/d, |x / d| <= 127).
inline int round_half_away(float v) {
    if (!(v > -4194304.0f && v < 4194304.0f)) return 0;
    int t = static_cast<int>(v);
    const float f = v - static_cast<float>(t);
    if (f >= 0.5f) ++t;
    if (f <= -0.5f) --t;
    return t;
}

// Weighted squared error of a decoded block.
inline double weighted_sq_error(const float* x, const float* dec, const float* w, int n) {
    double e = 0;
    for (int i = 0; i < n; ++i) {
        const double d = static_cast<double>(x[i]) - static_cast<double>(dec[i]);
        e += (w ? static_cast<double>(w[i]) : 1.0) * d * d;
    }
    return e;
}

// ---- searches shared by the encoders (ggml_search.cpp); n is a multiple of 8, <= 256 ----

// Symmetric fit: value = s * q with integer q in [lo, hi] (lo < 0 < hi). Searches the scale
// over a grid of targets for the max-abs element (see ggml_search.cpp) and returns the s that
// minimises sum w (x - s q)^2 with q the nearest codes; with f16_scale the candidate scales
// are rounded to F16 before they are judged. Returns 0 for an all-zero block, xm / lo (the
// max-based scale) when no candidate is usable (|x| near the float limit). w non-null.
float fit_symmetric(const float* x, const float* w, int n, int lo, int hi, float step, int steps,
                    bool f16_scale);

// Affine fit: value = d * q + b with integer q in [0, nmax], d >= 0. With b_nonpositive
// (k-quants store b = -min with min >= 0) b is constrained to <= 0; with f16_params d and b
// are rounded to F16 before candidates are judged. w non-null.
struct Affine {
    float d = 0, b = 0;
};
Affine fit_affine(const float* x, const float* w, int n, int nmax, float step, int steps,
                  bool b_nonpositive, bool f16_params);

// ---- block encoders / decoders ----
bool encode_q4_0(const float* x, const float* w, uint8_t* out);
bool encode_q4_1(const float* x, const float* w, uint8_t* out);
bool encode_q5_0(const float* x, const float* w, uint8_t* out);
bool encode_q5_1(const float* x, const float* w, uint8_t* out);
bool encode_q8_0(const float* x, const float* w, uint8_t* out);
bool encode_q4_k(const float* x, const float* w, uint8_t* out);
bool encode_q5_k(const float* x, const float* w, uint8_t* out);
bool encode_q6_k(const float* x, const float* w, uint8_t* out);

void decode_q4_0(const uint8_t* in, float* out);
void decode_q4_1(const uint8_t* in, float* out);
void decode_q5_0(const uint8_t* in, float* out);
void decode_q5_1(const uint8_t* in, float* out);
void decode_q8_0(const uint8_t* in, float* out);
void decode_q4_k(const uint8_t* in, float* out);
void decode_q5_k(const uint8_t* in, float* out);
void decode_q6_k(const uint8_t* in, float* out);

}  // namespace sutra::quant::ggml
