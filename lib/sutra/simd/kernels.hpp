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

// One row for rtn_row: its values as stored in the checkpoint, its groups (quant/layout.hpp:
// n_groups groups of `group` values, the last one cols - (n_groups - 1) * group wide), and
// where its codes, scales and zero points go.
enum class RowFormat : uint8_t { f32, f16, bf16 };
struct RtnRow {
    const void* values = nullptr;  // cols values in `format`
    RowFormat format = RowFormat::f32;
    size_t cols = 0;
    size_t group = 0;
    size_t n_groups = 0;
    int bits = 4;                // 1 to 8
    uint8_t* codes = nullptr;    // ceil(cols * bits / 8) bytes, bit-packed (every byte written)
    uint16_t* scales = nullptr;  // n_groups F16 bit patterns
    uint8_t* zeros = nullptr;    // n_groups zero points, one per byte (not packed)
};

// Products on packed weights (the layout of quant/layout.hpp), for the forward pass of a .qbin.
//
// Activations in 8 bits (llama.cpp's Q8_0): blocks of kQ8Block values; per block
// d = max|x| / 127 (f32 division), q = clamp(rint(x / d), -127, 127) (rint: half to even), and
// the integer sum of the block's q. A block of zeros has d = 0, q = 0; a block holding a NaN or
// an infinity has d = NaN, q = 0, sum 0 (so every product with it is NaN, as in f32).
inline constexpr size_t kQ8Block = 32;

// One row of a packed weight matrix as stored: `cols` codes of `bits` bits (3, 4 or 8),
// bit-packed (quant/layout.hpp); n_groups groups of `group` codes (the last one
// cols - (n_groups - 1) * group wide), each with an F16 scale and a zero point, the zero points
// bit-packed like the codes. A weight decodes to (code - zero) * scale.
struct PackedRow {
    const uint8_t* codes = nullptr;
    const uint16_t* scales = nullptr;
    const uint8_t* zeros = nullptr;
    size_t cols = 0;
    size_t group = 0;
    size_t n_groups = 0;
    int bits = 4;
};

// Activation rows quantized by quantize_q8, `cols` (a multiple of kQ8Block) values each: row t
// is q + t * cols, its block scales d + t * cols / 32 and block sums sums + t * cols / 32.
// Optionally `qn`: the same rows in the order of 4-bit packed codes (q8_nibble_order), which
// lets packed_dot_q8 multiply a 4-bit row's nibbles in place without interleaving them back
// into code order (it gives the same bits with or without it).
struct Q8Rows {
    const int8_t* q = nullptr;
    const float* d = nullptr;
    const int32_t* sums = nullptr;
    size_t cols = 0;
    const int8_t* qn = nullptr;
};

// Values per chunk of q8_nibble_order.
inline constexpr size_t kQ8NibbleChunk = 128;
// One row of Q8 values, cols a multiple of kQ8NibbleChunk, reordered per chunk of 128 as the
// nibbles of 64 packed 4-bit bytes hold their codes: the 64 values at even positions (low
// nibbles), then the 64 at odd positions (high nibbles). out[c*128 + i] = q[c*128 + 2i],
// out[c*128 + 64 + i] = q[c*128 + 2i + 1].
void q8_nibble_order(const int8_t* q, size_t cols, int8_t* out);

// kQ8Panel activation rows of Q8 interleaved for the token-parallel product
// (packed_dot_q8_panel), `cols` values each: for block j, element group k (4 values, k < 8)
// and row t, the 4 values q_t[32j + 4k .. + 4) are at q + ((8j + k) * kQ8Panel + t) * 4; block
// j's scale and sum of row t are d[j * kQ8Panel + t] and sums[j * kQ8Panel + t] (the sum as
// f32, exact). Rows past the ones given are zeros (d = 0, q = 0). Made by make_q8_panel.
inline constexpr size_t kQ8Panel = 16;
struct Q8Panel {
    const int8_t* q = nullptr;    // kQ8Panel * cols
    const float* d = nullptr;     // kQ8Panel * cols / kQ8Block
    const float* sums = nullptr;  // kQ8Panel * cols / kQ8Block
    size_t cols = 0;
};
// Rows [0, n) of x (n <= kQ8Panel) into a panel's buffers, the rest zeros.
void make_q8_panel(const Q8Rows& x, size_t n, int8_t* q, float* d, float* sums);

// The fixed order of the packed products (same on every ISA):
// - packed_dot_q8 (every group width a multiple of kQ8Block): for block j of the row (group g),
//   i_j = sum_c code_c * q_c - zero_g * sum_j, an exact integer (|i_j| < 2^22, so exact in f32
//   too); t_j = (f32(i_j) * d_j) * scale_g; t_j is added to partial j % kSumLanes (f32, in
//   order of j), and the partials are combined pairwise (combine_partials).
// - packed_dot_f32 (any group width): per group g, element i of the group (from its first
//   element) adds (f32(code) - zero_g) * x to partial i % kSumLanes; the group's value is
//   combine_partials * scale_g, and the row's result is the sum of the group values in order
//   of g (f32, from +0). (code - zero) * x instead of code * x - zero * x: the same cost, and no
//   cancellation between two large sums.
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
    // x[0..n) (n a multiple of kQ8Block) to Q8: q[0..n), d and sums [n / kQ8Block] (above).
    void (*quantize_q8)(const float* x, size_t n, int8_t* q, float* d, int32_t* sums);
    // y[t * y_stride] = w . activation row t of x, for t in [0, n_x), in the order above. Every
    // group width of w must be a multiple of kQ8Block, and x.cols == w.cols.
    void (*packed_dot_q8)(const PackedRow& w, const Q8Rows& x, size_t n_x, float* y,
                          size_t y_stride);
    // The same products for the rows of a panel, y[t * y_stride] for t in [0, n) (n <=
    // kQ8Panel), with the same bits as packed_dot_q8 gives each row: the panel's rows are
    // vector lanes, so no horizontal sums are needed, which makes it the fast form for many
    // rows.
    void (*packed_dot_q8_panel)(const PackedRow& w, const Q8Panel& x, size_t n, float* y,
                                size_t y_stride);
    // y[t * y_stride] = w . x[t * x_stride .. + w.cols), for t in [0, n_x), in the order above.
    void (*packed_dot_f32)(const PackedRow& w, const float* x, size_t x_stride, size_t n_x,
                           float* y, size_t y_stride);
    // Round-to-nearest of one row (the formula of quant/rtn.hpp, with quant::kMaxF16Scale as
    // the largest scale) straight from its stored values: widening, min/max, scale and zero,
    // codes and bit packing in one pass over each group held in cache. Returns false, outputs
    // unspecified, when a value is NaN or infinite or a group's scale does not fit an F16 (the
    // caller asks quant::quantize_row_rtn which element or group).
    bool (*rtn_row)(const RtnRow& row);
};

// The scalar reference table.
const Kernels& scalar_kernels();

}  // namespace sutra::simd
