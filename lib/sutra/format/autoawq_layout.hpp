#pragma once
// The one module that knows AutoAWQ's "GEMM" bit layout (spec: format/AUTOAWQ.md).
//
// A linear with `out` outputs and `in` inputs, 4-bit codes q and zero points z in groups of G
// input channels, is stored as
//   qweight  I32 [in, out/8]     qweight[c, j] packs q of outputs 8j..8j+7 at input c
//   qzeros   I32 [in/G, out/8]   qzeros[k, j] packs z of outputs 8j..8j+7 in group k
//   scales   F16 [in/G, out]     scales[k, o]
// and W[o, c] = (q[o, c] - z[o, c / G]) * scales[c / G, o].
//
// One int32 word holds eight 4-bit values of eight consecutive output columns 8j + t,
// t = 0..7, in AutoAWQ's interleaved order: nibble i (bits 4i .. 4i+3, 0 = least significant)
// holds column t = kNibbleOrder[i] of the eight. For values v0..v7 of columns t = 0..7:
//
//   bit   31..28 27..24 23..20 19..16 15..12 11..8  7..4   3..0
//   holds  v7     v5     v3     v1     v6     v4     v2     v0
//
// e.g. v = 1, 2, 3, 4, 5, 6, 7, 8 packs to 0x86427531. The word is stored as a little-endian
// two's-complement int32 (a value >= 8 in the top nibble makes it negative).
#include <array>
#include <cstdint>
#include <string>

namespace sutra::format::autoawq {

inline constexpr int kBits = 4;
inline constexpr uint64_t kPack = 8;  // values per int32 word
inline constexpr std::array<uint8_t, 8> kNibbleOrder = {0, 2, 4, 6, 1, 3, 5, 7};

// v[t] = value of column t of the eight (each < 16).
uint32_t pack_word(const uint8_t* v);
void unpack_word(uint32_t word, uint8_t* v);

// Eight output columns 8j .. 8j+7 of a value matrix, given as rows8[t * width + x] = value of
// output column 8j + t at position x (x < width: input channel, or group), packed into
// dst[x * stride + j] for every x. stride = out / 8, the words per row of the destination.
void pack_column_block(const uint8_t* rows8, uint64_t width, uint64_t j, uint64_t stride,
                       uint32_t* dst);

// A whole matrix: m[o * width + x] for o < out (out a multiple of 8), into dst [width, out/8].
void pack_transposed(const uint8_t* m, uint64_t out, uint64_t width, uint32_t* dst);
// The inverse (for tests and readers): src [width, out/8] into m [out, width].
void unpack_transposed(const uint32_t* src, uint64_t out, uint64_t width, uint8_t* m);

// src [rows, cols] into dst [cols, rows] (the F16 scales, as raw 16-bit values).
void transpose_u16(const uint16_t* src, uint64_t rows, uint64_t cols, uint16_t* dst);

// Why a quantized weight of shape [out, in] with `bits`, configured group size `group_size`
// (0 = one group per row) and effective group width `group_width` cannot be written in this
// layout; "" when it can. The checks: 4 bits, a real group size (not "row") equal to the
// group width and dividing `in` (no ragged or clamped group), `out` a multiple of 8.
std::string unsupported_reason(uint64_t out, uint64_t in, int bits, uint32_t group_size,
                               uint64_t group_width);

}  // namespace sutra::format::autoawq
