#include "sutra/base/dtype.hpp"

#include <array>
#include <string>

#include "sutra/base/checked.hpp"

namespace sutra {
namespace {

struct DTypeRow {
    DType type;
    std::string_view name;
    uint32_t bits;
};

// In the enum's order (checked by the unit test), which is the reference's.
constexpr std::array<DTypeRow, 22> kTable = {{
    {DType::BOOL, "BOOL", 8},
    {DType::F4, "F4", 4},
    {DType::F6_E2M3, "F6_E2M3", 6},
    {DType::F6_E3M2, "F6_E3M2", 6},
    {DType::U8, "U8", 8},
    {DType::I8, "I8", 8},
    {DType::F8_E5M2, "F8_E5M2", 8},
    {DType::F8_E4M3, "F8_E4M3", 8},
    {DType::F8_E8M0, "F8_E8M0", 8},
    {DType::F8_E4M3FNUZ, "F8_E4M3FNUZ", 8},
    {DType::F8_E5M2FNUZ, "F8_E5M2FNUZ", 8},
    {DType::I16, "I16", 16},
    {DType::U16, "U16", 16},
    {DType::F16, "F16", 16},
    {DType::BF16, "BF16", 16},
    {DType::I32, "I32", 32},
    {DType::U32, "U32", 32},
    {DType::F32, "F32", 32},
    {DType::C64, "C64", 64},
    {DType::F64, "F64", 64},
    {DType::I64, "I64", 64},
    {DType::U64, "U64", 64},
}};

const DTypeRow& row(DType t) {
    return kTable[static_cast<size_t>(t)];
}

struct Alias {
    std::string_view name;  // lower case
    DType type;
};

constexpr std::array<Alias, 30> kAliases = {{
    {"bool", DType::BOOL},
    {"uint8", DType::U8},
    {"int8", DType::I8},
    {"float8_e5m2", DType::F8_E5M2},
    {"f8_e5m2fn", DType::F8_E5M2},
    {"float8_e4m3fn", DType::F8_E4M3},
    {"f8_e4m3fn", DType::F8_E4M3},
    {"float8_e8m0fnu", DType::F8_E8M0},
    {"f8_e8m0fnu", DType::F8_E8M0},
    {"float8_e4m3fnuz", DType::F8_E4M3FNUZ},
    {"float8_e5m2fnuz", DType::F8_E5M2FNUZ},
    {"float4_e2m1fn_x2", DType::F4},
    {"fp4", DType::F4},
    {"int16", DType::I16},
    {"uint16", DType::U16},
    {"float16", DType::F16},
    {"half", DType::F16},
    {"fp16", DType::F16},
    {"bfloat16", DType::BF16},
    {"int32", DType::I32},
    {"uint32", DType::U32},
    {"float32", DType::F32},
    {"float", DType::F32},
    {"fp32", DType::F32},
    {"complex64", DType::C64},
    {"float64", DType::F64},
    {"double", DType::F64},
    {"fp64", DType::F64},
    {"int64", DType::I64},
    {"uint64", DType::U64},
}};

}  // namespace

std::optional<DType> dtype_from_other_name(std::string_view name) {
    if (name.substr(0, 6) == "torch.") name.remove_prefix(6);
    if (name.size() > 32) return std::nullopt;
    std::string lower(name);
    for (char& c : lower)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    for (const auto& a : kAliases)
        if (a.name == lower) return a.type;
    return std::nullopt;
}

std::string_view dtype_name(DType t) {
    return row(t).name;
}

uint32_t dtype_bits(DType t) {
    return row(t).bits;
}

uint32_t dtype_size(DType t) {
    const uint32_t b = row(t).bits;
    return b % 8 == 0 ? b / 8 : 0;
}

std::optional<DType> parse_dtype(std::string_view name) {
    for (const auto& r : kTable) {
        if (r.name == name) return r.type;
    }
    return std::nullopt;
}

const std::vector<std::string_view>& dtype_names() {
    static const std::vector<std::string_view> names = [] {
        std::vector<std::string_view> v;
        for (const auto& r : kTable)
            v.push_back(r.name);
        return v;
    }();
    return names;
}

std::optional<uint64_t> dtype_nbytes(DType t, uint64_t numel) {
    const uint32_t bits = row(t).bits;
    // Whole-byte types: numel x bytes, so a count that fits in bytes but not in bits (2^61
    // and more U8 values) still gets an exact size.
    if (bits % 8 == 0) return checked_mul(numel, bits / 8);
    auto total = checked_mul(numel, bits);
    if (!total || *total % 8 != 0) return std::nullopt;
    return *total / 8;
}

std::optional<uint64_t> dtype_nbytes(DType t, std::span<const uint64_t> shape) {
    auto numel = checked_product(shape);
    if (!numel) return std::nullopt;
    return dtype_nbytes(t, *numel);
}

}  // namespace sutra
