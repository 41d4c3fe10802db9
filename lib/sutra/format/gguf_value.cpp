#include "sutra/format/gguf_value.hpp"

#include <limits>

namespace sutra::format {

const char* gguf_type_name(GgufType type) {
    switch (type) {
        case GgufType::u8:
            return "u8";
        case GgufType::i8:
            return "i8";
        case GgufType::u16:
            return "u16";
        case GgufType::i16:
            return "i16";
        case GgufType::u32:
            return "u32";
        case GgufType::i32:
            return "i32";
        case GgufType::f32:
            return "f32";
        case GgufType::boolean:
            return "bool";
        case GgufType::string:
            return "string";
        case GgufType::array:
            return "array";
        case GgufType::u64:
            return "u64";
        case GgufType::i64:
            return "i64";
        case GgufType::f64:
            return "f64";
    }
    return "?";
}

uint64_t gguf_scalar_size(GgufType type) {
    switch (type) {
        case GgufType::u8:
        case GgufType::i8:
        case GgufType::boolean:
            return 1;
        case GgufType::u16:
        case GgufType::i16:
            return 2;
        case GgufType::u32:
        case GgufType::i32:
        case GgufType::f32:
            return 4;
        case GgufType::u64:
        case GgufType::i64:
        case GgufType::f64:
            return 8;
        case GgufType::string:
        case GgufType::array:
            return 0;
    }
    return 0;
}

GgufValue GgufValue::make_u8(uint8_t v) {
    GgufValue x;
    x.type = GgufType::u8;
    x.u = v;
    return x;
}
GgufValue GgufValue::make_u32(uint32_t v) {
    GgufValue x;
    x.type = GgufType::u32;
    x.u = v;
    return x;
}
GgufValue GgufValue::make_i32(int32_t v) {
    GgufValue x;
    x.type = GgufType::i32;
    x.i = v;
    return x;
}
GgufValue GgufValue::make_u64(uint64_t v) {
    GgufValue x;
    x.type = GgufType::u64;
    x.u = v;
    return x;
}
GgufValue GgufValue::make_f32(float v) {
    GgufValue x;
    x.type = GgufType::f32;
    x.f = static_cast<double>(v);
    return x;
}
GgufValue GgufValue::make_bool(bool v) {
    GgufValue x;
    x.type = GgufType::boolean;
    x.u = v ? 1 : 0;
    return x;
}
GgufValue GgufValue::make_string(std::string v) {
    GgufValue x;
    x.type = GgufType::string;
    x.s = std::move(v);
    return x;
}
GgufValue GgufValue::make_array(GgufType elem, std::vector<GgufValue> items) {
    GgufValue x;
    x.type = GgufType::array;
    x.elem = elem;
    x.items = std::move(items);
    return x;
}
GgufValue GgufValue::make_string_array(const std::vector<std::string>& v) {
    std::vector<GgufValue> items;
    items.reserve(v.size());
    for (const auto& s : v)
        items.push_back(make_string(s));
    return make_array(GgufType::string, std::move(items));
}
GgufValue GgufValue::make_f32_array(const std::vector<float>& v) {
    std::vector<GgufValue> items;
    items.reserve(v.size());
    for (float f : v)
        items.push_back(make_f32(f));
    return make_array(GgufType::f32, std::move(items));
}
GgufValue GgufValue::make_i32_array(const std::vector<int32_t>& v) {
    std::vector<GgufValue> items;
    items.reserve(v.size());
    for (int32_t i : v)
        items.push_back(make_i32(i));
    return make_array(GgufType::i32, std::move(items));
}

std::optional<uint64_t> GgufValue::as_uint() const {
    switch (type) {
        case GgufType::u8:
        case GgufType::u16:
        case GgufType::u32:
        case GgufType::u64:
        case GgufType::boolean:
            return u;
        case GgufType::i8:
        case GgufType::i16:
        case GgufType::i32:
        case GgufType::i64:
            if (i < 0) return std::nullopt;
            return static_cast<uint64_t>(i);
        default:
            return std::nullopt;
    }
}

std::optional<int64_t> GgufValue::as_int() const {
    switch (type) {
        case GgufType::u8:
        case GgufType::u16:
        case GgufType::u32:
        case GgufType::u64:
            if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
            return static_cast<int64_t>(u);
        case GgufType::i8:
        case GgufType::i16:
        case GgufType::i32:
        case GgufType::i64:
            return i;
        default:
            return std::nullopt;
    }
}

std::optional<double> GgufValue::as_float() const {
    if (type == GgufType::f32 || type == GgufType::f64) return f;
    return std::nullopt;
}

const GgufValue* gguf_find(const GgufMetadata& metadata, std::string_view key) {
    for (const auto& [k, v] : metadata)
        if (k == key) return &v;
    return nullptr;
}

}  // namespace sutra::format
