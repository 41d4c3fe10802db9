#pragma once
// The safetensors element types, their names as spelled in headers, and their sizes.
//
// The table follows the current safetensors format (the reference parser's `Dtype`): every
// type it accepts is known here, so any valid file opens. Sizes are in bits: F4 is 4 bits,
// F6_E2M3 / F6_E3M2 are 6 bits, packed back to back with no padding (a tensor's byte size is
// numel x bits / 8, which must be a whole number of bytes, as the reference requires). C64 is
// a complex number of two F32 parts (64 bits). Only F32, F16 and BF16 are converted to f32 and
// quantized; every other type is carried through unchanged, byte for byte.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace sutra {

enum class DType : uint8_t {
    BOOL,
    F4,
    F6_E2M3,
    F6_E3M2,
    U8,
    I8,
    F8_E5M2,
    F8_E4M3,
    F8_E8M0,
    F8_E4M3FNUZ,
    F8_E5M2FNUZ,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    C64,
    F64,
    I64,
    U64,
};

// Exact, case-sensitive spelling used by safetensors ("F32", "BF16", "F8_E4M3FNUZ", ...).
std::string_view dtype_name(DType t);
std::optional<DType> parse_dtype(std::string_view name);
// The safetensors dtype another tool's name stands for: PyTorch's ("float32", "bfloat16",
// "float8_e4m3fn", with or without "torch."), NumPy's ("float16", "int8"), and the
// upper-case spellings people write from them ("F8_E4M3FN", "FP16"). For messages only:
// headers must use the safetensors names.
std::optional<DType> dtype_from_other_name(std::string_view name);
// Every dtype name, in table order (for messages and suggestions).
const std::vector<std::string_view>& dtype_names();

// Bits per element: 4 (F4), 6 (F6_*), 8, 16, 32 or 64.
uint32_t dtype_bits(DType t);
// Bytes per element of a whole-byte type; 0 for the sub-byte types F4, F6_E2M3 and F6_E3M2
// (use dtype_nbytes for a tensor's size).
uint32_t dtype_size(DType t);
// Byte size of `numel` elements: numel x bits / 8. nullopt if that overflows 64 bits or, for a
// sub-byte type, is not a whole number of bytes (an odd number of F4 values; F6 values not a
// multiple of 4).
std::optional<uint64_t> dtype_nbytes(DType t, uint64_t numel);
// The same for a shape (numel = product of the dimensions, 1 for []).
std::optional<uint64_t> dtype_nbytes(DType t, std::span<const uint64_t> shape);

// F32, F16 and BF16 can be converted to f32 and quantized.
inline bool dtype_is_float_quantizable(DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

}  // namespace sutra
