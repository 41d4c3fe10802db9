#pragma once
// A quantized weight matrix held as it is stored (quant/layout.hpp): bit-packed codes, F16
// group scales and bit-packed zero points, [rows, cols]. What the forward pass multiplies with
// when it runs a .qbin, instead of a dequantized f32 copy (8x the bytes at 4 bits). The bytes
// are either its own (on the heap) or the .qbin's own, in a read-only mapping of the file
// (io::MappedFile); `storage` keeps whichever it is alive.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "sutra/quant/layout.hpp"

namespace sutra::simd {
struct Kernels;
}

namespace sutra::quant {

struct PackedMatrix {
    QuantLayout layout;
    std::span<const uint8_t> codes;       // rows * row_code_bytes
    std::span<const uint16_t> scales;     // rows * n_groups
    std::span<const uint8_t> zeros;       // rows * row_zero_bytes
    std::shared_ptr<const void> storage;  // owns the bytes the spans point into

    // A matrix that owns its buffers.
    static PackedMatrix owning(const QuantLayout& layout, std::vector<uint8_t> codes,
                               std::vector<uint16_t> scales, std::vector<uint8_t> zeros);

    uint64_t rows() const { return layout.rows; }
    uint64_t cols() const { return layout.cols; }
    uint64_t bytes() const { return codes.size() + scales.size() * 2 + zeros.size(); }
    // Whether the buffers have the sizes the layout implies.
    bool consistent() const;
    // Rows [row0, row0 + n) as f32 into out [n, cols]; bit-identical to dequantize_row.
    void dequantize_rows(const simd::Kernels& k, uint64_t row0, uint64_t n, float* out) const;
};

}  // namespace sutra::quant
