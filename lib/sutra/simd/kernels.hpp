#pragma once
// The hot inner loops of quantization, dequantization, dtype conversion and error sums, as a
// table of functions. One table per instruction set: the scalar reference (kernels_scalar.cpp)
// and xsimd implementations (kernels_impl.hpp, compiled once per instruction set). dispatch.hpp
// picks the table.
//
// Contract: every implementation gives results bit-identical to the scalar reference, so the
// output of sutra does not depend on the instruction set. That holds for the sums too, because
// their order of additions is fixed (below), not left to the vector width.
#include <cstddef>
#include <cstdint>

namespace sutra::simd {

// Sums are computed in blocks of kSumBlock elements. Inside a block, element i goes to partial
// sum i % kSumLanes (f32, added in order); the partials are combined pairwise (p[j] += p[j+8],
// then +4, +2, +1) and the block's f32 sum is added to an f64 total. Same order on every ISA.
inline constexpr size_t kSumLanes = 16;
inline constexpr size_t kSumBlock = 1024;

// The sums behind the error metrics of a reference r and its quantized version q.
struct ErrorSums {
    double sq_err = 0;  // sum (r - q)^2
    double sq_ref = 0;  // sum r^2
    double sq_q = 0;    // sum q^2
    double ref = 0;     // sum r
    double q = 0;       // sum q
    double ref_q = 0;   // sum r * q
    float max_abs_err = 0;
};

struct Kernels {
    const char* name;
    // IEEE half / bfloat16 bit patterns to f32, exactly (NaN payloads kept). out may alias the
    // input when out's first byte is at or before in's (the in-place widening of a read buffer).
    void (*f16_to_f32)(const uint16_t* in, float* out, size_t n);
    void (*bf16_to_f32)(const uint16_t* in, float* out, size_t n);
    // *lo = min, *hi = max of x[0..n), n >= 1. Returns false (lo/hi unspecified) when any value
    // is NaN or infinite.
    bool (*min_max)(const float* x, size_t n, float* lo, float* hi);
    // codes[i] = clamp(rint(x[i] / scale) + zero, 0, qmax), rint rounding half to even. Values
    // must be finite.
    void (*quantize)(const float* x, size_t n, float scale, float zero, float qmax, uint8_t* codes);
    // out[i] = (codes[i] - zero) * scale.
    void (*dequantize)(const uint8_t* codes, size_t n, float scale, float zero, float* out);
    // 4-bit packing: out[j] = codes[2j] | codes[2j+1] << 4 (codes < 16); odd n: last high nibble
    // 0. And its inverse.
    void (*pack4)(const uint8_t* codes, size_t n, uint8_t* out);
    void (*unpack4)(const uint8_t* in, size_t n, uint8_t* codes);
    // Adds the sums over x[0..n) to *s (block order above).
    void (*error_sums)(const float* ref, const float* q, size_t n, ErrorSums* s);
    // sum a[i] * b[i] and sum (a[i] - b[i])^2, in the block order above.
    double (*dot)(const float* a, const float* b, size_t n);
    double (*sq_diff)(const float* a, const float* b, size_t n);
};

// The scalar reference table.
const Kernels& scalar_kernels();

}  // namespace sutra::simd
