#include "sutra/base/dtype.hpp"

#include <array>

namespace sutra {
namespace {

struct DTypeRow {
    DType type;
    std::string_view name;
    uint32_t size;
};

constexpr std::array<DTypeRow, 15> kTable = {{
    {DType::BOOL, "BOOL", 1},
    {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},
    {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::F8_E5M2, "F8_E5M2", 1},
    {DType::U16, "U16", 2},
    {DType::I16, "I16", 2},
    {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},
    {DType::U32, "U32", 4},
    {DType::I32, "I32", 4},
    {DType::F32, "F32", 4},
    {DType::U64, "U64", 8},
    {DType::I64, "I64", 8},
    {DType::F64, "F64", 8},
}};

}  // namespace

std::string_view dtype_name(DType t) {
    return kTable[static_cast<size_t>(t)].name;
}

uint32_t dtype_size(DType t) {
    return kTable[static_cast<size_t>(t)].size;
}

std::optional<DType> parse_dtype(std::string_view name) {
    for (const auto& row : kTable) {
        if (row.name == name) return row.type;
    }
    return std::nullopt;
}

}  // namespace sutra
