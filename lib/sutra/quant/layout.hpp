#pragma once
// The one module that knows how quantized weights are laid out in bytes.
//
// A weight W of shape [rows, cols] (cols = input dimension) quantized with `bits` and group
// size g is cut along each row into n_groups = ceil(cols / g') groups, where g' = g, or
// g' = cols when g is 0 ("row") or g >= cols. The last group of a row is narrower when g' does
// not divide cols (a ragged last group: cols - (n_groups - 1) * g' elements).
//
// Three stored tensors:
//   qweight  U8  [rows, ceil(cols * bits / 8)]      codes of each row, bit-packed
//   scales   F16 [rows, n_groups]                    one scale per group
//   qzeros   U8  [rows, ceil(n_groups * bits / 8)]   zero point of each group, bit-packed
//
// Bit packing (pack_codes): within one row, code k occupies bits [k*bits, k*bits + bits) of a
// little-endian bit stream: byte k*bits/8, starting at bit (k*bits)%8, least significant bit
// first, spilling into the next byte when needed. Unused high bits of a row's last byte are 0.
//   4-bit: byte j = code[2j] | code[2j+1] << 4
//   8-bit: byte j = code[j]
//   3-bit: 8 codes in 3 bytes, e.g. byte 0 = c0 | c1 << 3 | (c2 & 3) << 6
#include <cstddef>
#include <cstdint>

namespace sutra::quant {

struct QuantLayout {
    uint64_t rows = 0;
    uint64_t cols = 0;
    int bits = 4;
    uint64_t group = 0;  // effective group width g'
    uint64_t n_groups = 0;
    uint64_t row_code_bytes = 0;
    uint64_t row_zero_bytes = 0;

    uint64_t qweight_bytes() const { return rows * row_code_bytes; }
    uint64_t scales_bytes() const { return rows * n_groups * 2; }
    uint64_t qzeros_bytes() const { return rows * row_zero_bytes; }
    uint64_t total_bytes() const { return qweight_bytes() + scales_bytes() + qzeros_bytes(); }
    // Width of group k (the last one may be narrower).
    uint64_t group_width(uint64_t k) const { return k + 1 < n_groups ? group : cols - k * group; }
};

inline uint64_t packed_bytes(uint64_t count, int bits) {
    return (count * static_cast<uint64_t>(bits) + 7) / 8;
}

// group_size 0 means one group per row. rows, cols >= 1.
QuantLayout make_layout(uint64_t rows, uint64_t cols, int bits, uint32_t group_size);

// Packs n codes (each < 2^bits) into packed_bytes(n, bits) bytes; out must be zeroed or is
// fully overwritten (this function writes every byte of the output).
void pack_codes(const uint8_t* codes, size_t n, int bits, uint8_t* out);
void unpack_codes(const uint8_t* in, size_t n, int bits, uint8_t* codes);

}  // namespace sutra::quant
