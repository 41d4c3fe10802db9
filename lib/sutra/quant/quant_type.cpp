#include "sutra/quant/quant_type.hpp"

#include <algorithm>
#include <array>

namespace sutra::quant {
namespace {

constexpr std::array<QuantType, 3> kQuantTypes = {{
    {"q3", 3, "3-bit codes, densely bit-packed (8 codes in 3 bytes)"},
    {"q4", 4, "4-bit codes, two per byte (low nibble first)"},
    {"q8", 8, "8-bit codes, one per byte"},
}};

constexpr std::array<uint32_t, 5> kGroups = {32, 64, 128, 256, kGroupRow};

}  // namespace

std::span<const QuantType> quant_types() {
    return kQuantTypes;
}

const QuantType* quant_type_for_bits(int bits) {
    for (const auto& t : kQuantTypes)
        if (t.bits == bits) return &t;
    return nullptr;
}

const QuantType* quant_type_by_name(std::string_view name) {
    for (const auto& t : kQuantTypes)
        if (t.name == name) return &t;
    return nullptr;
}

std::span<const uint32_t> allowed_group_sizes() {
    return kGroups;
}

bool is_allowed_group_size(uint32_t g) {
    return std::find(kGroups.begin(), kGroups.end(), g) != kGroups.end();
}

}  // namespace sutra::quant
