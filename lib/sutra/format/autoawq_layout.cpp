#include "sutra/format/autoawq_layout.hpp"

#include <vector>

namespace sutra::format::autoawq {

uint32_t pack_word(const uint8_t* v) {
    uint32_t w = 0;
    for (unsigned i = 0; i < kPack; ++i)
        w |= static_cast<uint32_t>(v[kNibbleOrder[i]] & 0xFu) << (4 * i);
    return w;
}

void unpack_word(uint32_t word, uint8_t* v) {
    for (unsigned i = 0; i < kPack; ++i)
        v[kNibbleOrder[i]] = static_cast<uint8_t>((word >> (4 * i)) & 0xFu);
}

void pack_column_block(const uint8_t* rows8, uint64_t width, uint64_t j, uint64_t stride,
                       uint32_t* dst) {
    uint8_t v[kPack];
    for (uint64_t x = 0; x < width; ++x) {
        for (uint64_t t = 0; t < kPack; ++t)
            v[t] = rows8[t * width + x];
        dst[x * stride + j] = pack_word(v);
    }
}

void pack_transposed(const uint8_t* m, uint64_t out, uint64_t width, uint32_t* dst) {
    const uint64_t stride = out / kPack;
    for (uint64_t j = 0; j < stride; ++j)
        pack_column_block(m + j * kPack * width, width, j, stride, dst);
}

void unpack_transposed(const uint32_t* src, uint64_t out, uint64_t width, uint8_t* m) {
    const uint64_t stride = out / kPack;
    uint8_t v[kPack];
    for (uint64_t x = 0; x < width; ++x) {
        for (uint64_t j = 0; j < stride; ++j) {
            unpack_word(src[x * stride + j], v);
            for (uint64_t t = 0; t < kPack; ++t)
                m[(j * kPack + t) * width + x] = v[t];
        }
    }
}

void transpose_u16(const uint16_t* src, uint64_t rows, uint64_t cols, uint16_t* dst) {
    for (uint64_t r = 0; r < rows; ++r)
        for (uint64_t c = 0; c < cols; ++c)
            dst[c * rows + r] = src[r * cols + c];
}

std::string unsupported_reason(uint64_t out, uint64_t in, int bits, uint32_t group_size,
                               uint64_t group_width) {
    if (bits != kBits)
        return std::to_string(bits) + "-bit codes (the AutoAWQ GEMM layout holds 4-bit only)";
    if (group_size == 0)
        return "one group per row (\"row\"), which has no AutoAWQ group size; quantize with "
               "--group-size 32, 64 or 128";
    if (group_width != group_size || in % group_size != 0)
        return "the group size " + std::to_string(group_size) +
               " does not divide the input width " + std::to_string(in) + " (a ragged last group)";
    if (out % kPack != 0)
        return "the output width " + std::to_string(out) + " is not a multiple of 8";
    return "";
}

}  // namespace sutra::format::autoawq
