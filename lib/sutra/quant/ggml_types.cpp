#include "sutra/quant/ggml_types.hpp"

#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "sutra/base/half.hpp"
#include "sutra/quant/ggml_blocks.hpp"

namespace sutra::quant {
namespace {

constexpr std::array<GgmlTypeInfo, 10> kGgmlTypes = {{
    {GgmlType::F32, "F32", 1, 4, "32-bit float, unquantized (32 bits/weight)"},
    {GgmlType::F16, "F16", 1, 2, "16-bit float (16 bits/weight)"},
    {GgmlType::Q4_0, "Q4_0", 32, 18, "4-bit, blocks of 32 with one F16 scale (4.5 bits/weight)"},
    {GgmlType::Q4_1, "Q4_1", 32, 20,
     "4-bit, blocks of 32 with an F16 scale and min (5.0 bits/weight)"},
    {GgmlType::Q5_0, "Q5_0", 32, 22, "5-bit, blocks of 32 with one F16 scale (5.5 bits/weight)"},
    {GgmlType::Q5_1, "Q5_1", 32, 24,
     "5-bit, blocks of 32 with an F16 scale and min (6.0 bits/weight)"},
    {GgmlType::Q8_0, "Q8_0", 32, 34, "8-bit, blocks of 32 with one F16 scale (8.5 bits/weight)"},
    {GgmlType::Q4_K, "Q4_K", 256, 144,
     "4-bit k-quant, 256-value super-blocks of 8 x 32 with 6-bit scales and mins (4.5 "
     "bits/weight)"},
    {GgmlType::Q5_K, "Q5_K", 256, 176,
     "5-bit k-quant, 256-value super-blocks of 8 x 32 with 6-bit scales and mins (5.5 "
     "bits/weight)"},
    {GgmlType::Q6_K, "Q6_K", 256, 210,
     "6-bit k-quant, 256-value super-blocks of 16 x 16 with 8-bit scales (6.5625 bits/weight)"},
}};

using BlockEncoder = bool (*)(const float*, const float*, uint8_t*);
using BlockDecoder = void (*)(const uint8_t*, float*);

struct Codec {
    BlockEncoder encode;
    BlockDecoder decode;
};

Codec codec_of(GgmlType t) {
    switch (t) {
        case GgmlType::Q4_0:
            return {ggml::encode_q4_0, ggml::decode_q4_0};
        case GgmlType::Q4_1:
            return {ggml::encode_q4_1, ggml::decode_q4_1};
        case GgmlType::Q5_0:
            return {ggml::encode_q5_0, ggml::decode_q5_0};
        case GgmlType::Q5_1:
            return {ggml::encode_q5_1, ggml::decode_q5_1};
        case GgmlType::Q8_0:
            return {ggml::encode_q8_0, ggml::decode_q8_0};
        case GgmlType::Q4_K:
            return {ggml::encode_q4_k, ggml::decode_q4_k};
        case GgmlType::Q5_K:
            return {ggml::encode_q5_k, ggml::decode_q5_k};
        case GgmlType::Q6_K:
            return {ggml::encode_q6_k, ggml::decode_q6_k};
        case GgmlType::F32:
        case GgmlType::F16:
            break;
    }
    return {nullptr, nullptr};
}

std::string fmt_value(float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
    return buf;
}

}  // namespace

std::span<const GgmlTypeInfo> ggml_types() {
    return kGgmlTypes;
}

const GgmlTypeInfo* find_ggml_type(uint32_t type_id) {
    for (const auto& t : kGgmlTypes)
        if (static_cast<uint32_t>(t.type) == type_id) return &t;
    return nullptr;
}

const GgmlTypeInfo& ggml_type_info(GgmlType type) {
    const GgmlTypeInfo* t = find_ggml_type(static_cast<uint32_t>(type));
    return t ? *t : kGgmlTypes[0];
}

std::optional<GgmlType> parse_ggml_type(std::string_view name) {
    for (const auto& t : kGgmlTypes) {
        const std::string_view n = t.name;
        if (n.size() != name.size()) continue;
        bool same = true;
        for (size_t i = 0; i < n.size() && same; ++i)
            same = std::toupper(static_cast<unsigned char>(name[i])) == n[i];
        if (same) return t.type;
    }
    return std::nullopt;
}

bool ggml_row_fits(GgmlType type, uint64_t cols) {
    return cols % ggml_type_info(type).block_elems == 0;
}

uint64_t ggml_row_bytes(GgmlType type, uint64_t cols) {
    const GgmlTypeInfo& t = ggml_type_info(type);
    return cols / t.block_elems * t.block_bytes;
}

Status ggml_quantize_row(GgmlType type, const float* x, uint64_t cols, const float* importance,
                         uint8_t* out) {
    const GgmlTypeInfo& t = ggml_type_info(type);
    if (!ggml_row_fits(type, cols))
        return make_error(Errc::invalid_argument,
                          std::string(t.name) + " needs a row width that is a multiple of " +
                              std::to_string(t.block_elems) + ", got " + std::to_string(cols) +
                              " (choose another type for this tensor)");
    for (uint64_t i = 0; i < cols; ++i)
        if (!std::isfinite(x[i]))
            return make_error(Errc::invalid_argument,
                              std::string(t.name) + ": value at column " + std::to_string(i) +
                                  " is " + fmt_value(x[i]) + ", not a finite number");
    if (importance)
        for (uint64_t i = 0; i < cols; ++i)
            if (!(importance[i] >= 0.0f) || !std::isfinite(importance[i]))
                return make_error(Errc::invalid_argument,
                                  std::string(t.name) + ": importance at column " +
                                      std::to_string(i) + " is " + fmt_value(importance[i]) +
                                      "; importance weights must be finite and >= 0");
    if (type == GgmlType::F32) {
        if (cols) std::memcpy(out, x, cols * sizeof(float));
        return {};
    }
    if (type == GgmlType::F16) {
        for (uint64_t i = 0; i < cols; ++i) {
            const uint16_t h = f32_to_f16(x[i]);
            if (!ggml::f16_finite(h))
                return make_error(Errc::invalid_argument,
                                  "F16: value " + fmt_value(x[i]) + " at column " +
                                      std::to_string(i) +
                                      " is beyond the F16 range (|x| <= 65504); use F32");
            ggml::put_f16(out + 2 * i, h);
        }
        return {};
    }
    const Codec c = codec_of(type);
    if (!c.encode) return make_error(Errc::internal, std::string(t.name) + ": no encoder");
    for (uint64_t b = 0; b < cols / t.block_elems; ++b) {
        const uint64_t off = b * t.block_elems;
        if (!c.encode(x + off, importance ? importance + off : nullptr, out + b * t.block_bytes))
            return make_error(Errc::invalid_argument,
                              std::string(t.name) + ": the block at columns " +
                                  std::to_string(off) + ".." +
                                  std::to_string(off + t.block_elems - 1) +
                                  " needs a scale beyond the F16 range (values too large for " +
                                  t.name + "); use F32 or F16 for this tensor");
    }
    return {};
}

void ggml_dequantize_row(GgmlType type, const uint8_t* in, uint64_t cols, float* out) {
    const GgmlTypeInfo& t = ggml_type_info(type);
    if (type == GgmlType::F32) {
        if (cols) std::memcpy(out, in, cols * sizeof(float));
        return;
    }
    if (type == GgmlType::F16) {
        for (uint64_t i = 0; i < cols; ++i)
            out[i] = ggml::get_f16_f32(in + 2 * i);
        return;
    }
    const Codec c = codec_of(type);
    if (!c.decode) return;
    for (uint64_t b = 0; b < cols / t.block_elems; ++b)
        c.decode(in + b * t.block_bytes, out + b * t.block_elems);
}

}  // namespace sutra::quant
