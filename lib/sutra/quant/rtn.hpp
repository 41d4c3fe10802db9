#pragma once
// Round-to-nearest asymmetric group quantization: the scalar reference.
//
// For each group of a row, with qmax = 2^bits - 1:
//   lo = min(w), hi = max(w)
//   scale = f16(max(hi - lo, 1e-5) / qmax)         (rounded to F16, ties to even; at least
//                                                   the smallest F16 subnormal, 2^-24)
//   zero  = clamp(rint(-lo / scale), 0, qmax)      (rint: round half to even)
//   q     = clamp(rint(w / scale) + zero, 0, qmax)
// where scale in the last two lines is the F16 value widened back to f32, so codes match what
// is stored. Dequantization: w' = (q - zero) * scale.
#include <cstddef>
#include <cstdint>

#include "sutra/quant/layout.hpp"

namespace sutra::quant {

// Largest group scale an F16 can hold; a group whose scale would exceed it cannot be stored.
inline constexpr float kMaxF16Scale = 65504.0f;

// A group's F16 scale (its bits and its f32 value) and zero point from its range [lo, hi], as
// above, for qmax = 2^bits - 1; false when the scale does not fit an F16.
bool rtn_group_params(float lo, float hi, float qmax, uint16_t* s16_out, float* scale, float* zero);

enum class RowStatus { ok, not_finite, scale_overflow };

// Quantizes one row of l.cols values. codes: l.cols bytes (unpacked), scales: l.n_groups F16
// bit patterns, zeros: l.n_groups bytes (unpacked). On not_finite / scale_overflow the outputs
// are unspecified and *bad_index is the offending element (or group start).
RowStatus quantize_row_rtn(const float* w, const QuantLayout& l, uint8_t* codes, uint16_t* scales,
                           uint8_t* zeros, size_t* bad_index);

// w' for one row from unpacked codes, F16 scales and unpacked zeros.
void dequantize_row(const uint8_t* codes, const uint16_t* scales, const uint8_t* zeros,
                    const QuantLayout& l, float* out);

}  // namespace sutra::quant

namespace sutra::simd {
struct Kernels;
}

namespace sutra::quant {

// The same two functions built from a kernel table (simd::active() in the pipeline); results
// are bit-identical to the reference above on every instruction set (tested).
RowStatus quantize_row_rtn(const simd::Kernels& k, const float* w, const QuantLayout& l,
                           uint8_t* codes, uint16_t* scales, uint8_t* zeros, size_t* bad_index);
void dequantize_row(const simd::Kernels& k, const uint8_t* codes, const uint16_t* scales,
                    const uint8_t* zeros, const QuantLayout& l, float* out);

// Packs a row's codes (l.cols) with the kernel for 4 bits, pack_codes otherwise.
void pack_row_codes(const simd::Kernels& k, const uint8_t* codes, size_t n, int bits, uint8_t* out);
void unpack_row_codes(const simd::Kernels& k, const uint8_t* in, size_t n, int bits,
                      uint8_t* codes);

}  // namespace sutra::quant
