#pragma once
// The metadata values of a GGUF file (version 3, format/GGUF.md, "File layout"): the thirteen value
// types of the specification, arrays of any of them included (arrays of arrays too, which
// the specification allows and llama.cpp's own reader refuses; sutra reads them and never
// writes them). Shared by the reader (gguf_reader.hpp) and the writer (gguf_writer.hpp).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sutra::format {

// Type codes as stored in the file (gguf.h `enum gguf_type`).
enum class GgufType : uint32_t {
    u8 = 0,
    i8 = 1,
    u16 = 2,
    i16 = 3,
    u32 = 4,
    i32 = 5,
    f32 = 6,
    boolean = 7,
    string = 8,
    array = 9,
    u64 = 10,
    i64 = 11,
    f64 = 12,
};
inline constexpr uint32_t kGgufTypeCount = 13;

// "u8", "string", "array", ...; "?" for a code outside the specification.
const char* gguf_type_name(GgufType type);
// Bytes of one value of a fixed-size type; 0 for string and array.
uint64_t gguf_scalar_size(GgufType type);

// One value. Integers are held in `i` (signed types) or `u` (unsigned and bool), floats in
// `f` (f32 values widened exactly), strings in `s` (raw bytes: GGUF strings are UTF-8 by the
// specification, but the reader does not enforce it), arrays in `items` (every item of type
// `elem`).
struct GgufValue {
    GgufType type = GgufType::u8;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    std::string s;
    GgufType elem = GgufType::u8;
    std::vector<GgufValue> items;

    static GgufValue make_u8(uint8_t v);
    static GgufValue make_u32(uint32_t v);
    static GgufValue make_i32(int32_t v);
    static GgufValue make_u64(uint64_t v);
    static GgufValue make_f32(float v);
    static GgufValue make_bool(bool v);
    static GgufValue make_string(std::string v);
    // An array of `elem` values (each item's type must be `elem`; the writer checks).
    static GgufValue make_array(GgufType elem, std::vector<GgufValue> items);
    static GgufValue make_string_array(const std::vector<std::string>& v);
    static GgufValue make_f32_array(const std::vector<float>& v);
    static GgufValue make_i32_array(const std::vector<int32_t>& v);

    // Any unsigned, signed (if >= 0) or bool value as an unsigned integer.
    std::optional<uint64_t> as_uint() const;
    // Any integer type as int64 (u64 values above INT64_MAX: nullopt).
    std::optional<int64_t> as_int() const;
    // f32 / f64.
    std::optional<double> as_float() const;
    const std::string* as_string() const { return type == GgufType::string ? &s : nullptr; }
};

using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;

// The value of `key`, or nullptr.
const GgufValue* gguf_find(const GgufMetadata& metadata, std::string_view key);

}  // namespace sutra::format
