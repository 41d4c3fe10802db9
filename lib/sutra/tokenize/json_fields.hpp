#pragma once
// Reading the fields of one tokenizer.json component object (a normalizer, a pre-tokenizer),
// with errors that name the component and the field. Nothing here throws.
#include <nlohmann/json.hpp>
#include <string>

#include "sutra/base/error.hpp"
#include "sutra/tokenize/regex.hpp"

namespace sutra::tokenize {

// Sequences inside sequences deeper than this are refused (Errc::too_large).
inline constexpr int kMaxComponentDepth = 16;

// The "type" string of component `j`; bad_format when `j` is not an object or has none.
Result<std::string> get_type(const nlohmann::json& j, const std::string& what);

// A string field; bad_format when it is absent or not a string.
Result<std::string> get_string(const nlohmann::json& j, const char* key, const std::string& what);

// A boolean field; `fallback` when absent (or null), bad_format when of another type.
Result<bool> get_bool(const nlohmann::json& j, const char* key, bool fallback,
                      const std::string& what);

// The "pattern" field, {"String": s} (matched literally) or {"Regex": r} (Oniguruma), compiled.
Result<Regex> read_pattern(const nlohmann::json& j, const std::string& what);

}  // namespace sutra::tokenize
