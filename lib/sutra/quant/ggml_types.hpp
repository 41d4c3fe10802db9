#pragma once
// The tensor types of llama.cpp's GGUF files that sutra writes and reads, as rows of one table
// (name, ggml type id, block width, block bytes), and the block encoders and decoders. The bit
// layout of every block is described in lib/sutra/format/GGUF.md; this module is the only
// place that knows it.
//
// Encoders work on one row of `cols` values (cols a multiple of the type's block width).
// `importance` is null or `cols` non-negative weights, one per column (the mean x^2 of that
// input channel over calibration data, as llama.cpp's imatrix): the encoder then chooses the
// block parameters to minimise sum_j importance[j] * (x[j] - decoded[j])^2 within the search
// the type allows; null means plain (unweighted) rounding. Encoding is a pure function of its
// inputs: identical bytes on every thread count and machine.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "sutra/base/error.hpp"

namespace sutra::quant {

// Values are ggml's type ids (ggml.h `enum ggml_type`), as stored in a GGUF tensor info.
enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
};

struct GgmlTypeInfo {
    GgmlType type;
    const char* name;      // "Q4_K"
    uint32_t block_elems;  // values per block (1 for F32/F16, 32, 256)
    uint32_t block_bytes;  // bytes per block
    const char* summary;   // one line for --help and inspect
};

// Every type above, in id order.
std::span<const GgmlTypeInfo> ggml_types();
// The row of `type`; nullptr for an id sutra does not know.
const GgmlTypeInfo* find_ggml_type(uint32_t type_id);
const GgmlTypeInfo& ggml_type_info(GgmlType type);
// By name, case-insensitive ("q4_k", "Q8_0", "f16").
std::optional<GgmlType> parse_ggml_type(std::string_view name);

// True when a row of `cols` values fits whole blocks of `type`.
bool ggml_row_fits(GgmlType type, uint64_t cols);
// Bytes of one row of `cols` values (cols must fit).
uint64_t ggml_row_bytes(GgmlType type, uint64_t cols);

// Encodes x[cols] into out[ggml_row_bytes(type, cols)]. invalid_argument when cols does not
// fit, a value is NaN or infinite, or an importance weight is negative or not finite.
Status ggml_quantize_row(GgmlType type, const float* x, uint64_t cols, const float* importance,
                         uint8_t* out);
// Decodes in[ggml_row_bytes(type, cols)] into out[cols].
void ggml_dequantize_row(GgmlType type, const uint8_t* in, uint64_t cols, float* out);

}  // namespace sutra::quant
