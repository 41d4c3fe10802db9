#pragma once
// The quantization encodings sutra writes: rows of one table that parsing, --help, inspect
// and the writer all read. Every encoding is asymmetric, group-wise along the input dimension,
// with an F16 scale and a zero point per group (see format/QBIN.md).
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace sutra::quant {

struct QuantType {
    std::string_view name;  // as written in .qbin records and shown by inspect: "q4"
    int bits;
    std::string_view description;
};

std::span<const QuantType> quant_types();
const QuantType* quant_type_for_bits(int bits);
const QuantType* quant_type_by_name(std::string_view name);

// Allowed group sizes: 32, 64, 128, 256, or 0 meaning one group per whole row.
inline constexpr uint32_t kGroupRow = 0;
std::span<const uint32_t> allowed_group_sizes();
bool is_allowed_group_size(uint32_t g);

}  // namespace sutra::quant
