#include "sutra/tokenize/json_values.hpp"

#include <cmath>

#include "sutra/tokenize/unicode.hpp"

namespace sutra::tokenize {

using nlohmann::json;

Error json_field_error(const std::string& field, const std::string& problem) {
    return make_error(Errc::bad_format, field + ": " + problem);
}

Result<int64_t> json_int_value(const json& v, int64_t lo, int64_t hi, const std::string& field) {
    if (v.is_number_unsigned()) {
        const auto u = v.get<uint64_t>();
        if (u <= static_cast<uint64_t>(hi) && static_cast<int64_t>(u) >= lo)
            return static_cast<int64_t>(u);
    }
    const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    if (!v.is_number_integer()) {
        if (v.is_number_float())
            return json_field_error(field, v.dump() + " must be an integer in " + range);
        return json_field_error(
            field, "must be an integer in " + range + ", not " + std::string(v.type_name()));
    }
    if (v.is_number_unsigned()) {
        const auto u = v.get<uint64_t>();
        if (u > static_cast<uint64_t>(hi))
            return json_field_error(field, std::to_string(u) + " is outside " + range);
        return static_cast<int64_t>(u);
    }
    const auto s = v.get<int64_t>();
    if (s < lo || s > hi)
        return json_field_error(field, std::to_string(s) + " is outside " + range);
    return s;
}

Result<double> json_number_value(const json& v, const std::string& field) {
    if (!v.is_number())
        return json_field_error(field, "must be a number, not " + std::string(v.type_name()));
    const double d = v.get<double>();
    if (!std::isfinite(d)) return json_field_error(field, "must be a finite number");
    return d;
}

Result<std::string> json_string_value(const json& v, const std::string& field) {
    if (!v.is_string())
        return json_field_error(field, "must be a string, not " + std::string(v.type_name()));
    return v.get<std::string>();
}

namespace {

const json* find_field(const json& j, const char* key) {
    if (!j.is_object()) return nullptr;
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return nullptr;
    return &*it;
}

}  // namespace

Result<std::optional<int64_t>> json_optional_int(const json& j, const char* key, int64_t lo,
                                                 int64_t hi, const std::string& what) {
    const json* v = find_field(j, key);
    if (!v) return std::optional<int64_t>{};
    SUTRA_ASSIGN(int64_t x, json_int_value(*v, lo, hi, what + "." + key));
    return std::optional<int64_t>{x};
}

Result<std::optional<double>> json_optional_number(const json& j, const char* key,
                                                   const std::string& what) {
    const json* v = find_field(j, key);
    if (!v) return std::optional<double>{};
    SUTRA_ASSIGN(double x, json_number_value(*v, what + "." + key));
    return std::optional<double>{x};
}

Result<std::optional<std::string>> json_optional_string(const json& j, const char* key,
                                                        const std::string& what) {
    const json* v = find_field(j, key);
    if (!v) return std::optional<std::string>{};
    SUTRA_ASSIGN(std::string s, json_string_value(*v, what + "." + key));
    return std::optional<std::string>{std::move(s)};
}

Result<char32_t> json_char(const json& j, const char* key, const std::string& what) {
    const std::string field = what + "." + key;
    const json* v = find_field(j, key);
    if (!v) return json_field_error(field, "is missing (a string of one character)");
    SUTRA_ASSIGN(std::string s, json_string_value(*v, field));
    std::size_t i = 0;
    if (s.empty() || (next_code_point(s, i), i != s.size()))
        return json_field_error(field, "must be exactly one character, not \"" + s + "\"");
    i = 0;
    return next_code_point(s, i);
}

}  // namespace sutra::tokenize
