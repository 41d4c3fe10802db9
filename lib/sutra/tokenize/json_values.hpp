#pragma once
// Typed values of tokenizer.json fields beyond those of json_fields.hpp (integers, numbers,
// optional strings), for the models, added tokens, post-processors and decoders. Messages
// name the field's path: "tokenizer.json: model.unk_id: must be an integer". Nothing here
// throws.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sutra/base/error.hpp"

namespace sutra::tokenize {

// `field` is the path of `v` in messages ("tokenizer.json: model.vocab[3][1]").
// An integer in [lo, hi].
Result<int64_t> json_int_value(const nlohmann::json& v, int64_t lo, int64_t hi,
                               const std::string& field);
// A finite number.
Result<double> json_number_value(const nlohmann::json& v, const std::string& field);
// A string; `v` may be any JSON value.
Result<std::string> json_string_value(const nlohmann::json& v, const std::string& field);

// Field `key` of object `j` (whose path is `what`): absent or null gives the fallback /
// nullopt; any other type than the one asked for is bad_format.
Result<std::optional<int64_t>> json_optional_int(const nlohmann::json& j, const char* key,
                                                 int64_t lo, int64_t hi, const std::string& what);
Result<std::optional<double>> json_optional_number(const nlohmann::json& j, const char* key,
                                                   const std::string& what);
Result<std::optional<std::string>> json_optional_string(const nlohmann::json& j, const char* key,
                                                        const std::string& what);
// A string field holding exactly one character (a Metaspace replacement, a Strip content).
Result<char32_t> json_char(const nlohmann::json& j, const char* key, const std::string& what);

// An error naming `field`: bad_format "field: problem".
Error json_field_error(const std::string& field, const std::string& problem);

}  // namespace sutra::tokenize
