#pragma once
// The safetensors element types, their names as spelled in headers, and their sizes.
#include <cstdint>
#include <optional>
#include <string_view>

namespace sutra {

enum class DType : uint8_t {
    BOOL,
    U8,
    I8,
    F8_E4M3,
    F8_E5M2,
    U16,
    I16,
    F16,
    BF16,
    U32,
    I32,
    F32,
    U64,
    I64,
    F64
};

// Exact, case-sensitive spelling used by safetensors ("F32", "BF16", ...).
std::string_view dtype_name(DType t);
std::optional<DType> parse_dtype(std::string_view name);
uint32_t dtype_size(DType t);
// F32, F16 and BF16 can be converted to f32 and quantized.
inline bool dtype_is_float_quantizable(DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

}  // namespace sutra
