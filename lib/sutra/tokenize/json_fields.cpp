#include "sutra/tokenize/json_fields.hpp"

namespace sutra::tokenize {

Result<std::string> get_type(const nlohmann::json& j, const std::string& what) {
    if (!j.is_object())
        return make_error(Errc::bad_format, what + ": must be a JSON object with a \"type\"");
    const auto it = j.find("type");
    if (it == j.end() || !it->is_string())
        return make_error(Errc::bad_format, what + ": has no \"type\" string");
    return it->get_ref<const std::string&>();
}

Result<std::string> get_string(const nlohmann::json& j, const char* key, const std::string& what) {
    if (!j.is_object()) return make_error(Errc::bad_format, what + ": must be a JSON object");
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string())
        return make_error(Errc::bad_format,
                          what + ": needs a string field \"" + std::string(key) + "\"");
    return it->get_ref<const std::string&>();
}

Result<bool> get_bool(const nlohmann::json& j, const char* key, bool fallback,
                      const std::string& what) {
    if (!j.is_object()) return make_error(Errc::bad_format, what + ": must be a JSON object");
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean())
        return make_error(Errc::bad_format,
                          what + ": field \"" + std::string(key) + "\" must be true or false");
    return it->get<bool>();
}

Result<Regex> read_pattern(const nlohmann::json& j, const std::string& what) {
    const std::string field = what + ".pattern";
    if (!j.is_object() || !j.contains("pattern") || !j["pattern"].is_object() ||
        j["pattern"].size() != 1)
        return make_error(Errc::bad_format,
                          field + ": must be {\"String\": \"...\"} or {\"Regex\": \"...\"}");
    const nlohmann::json& p = j["pattern"];
    const auto it = p.begin();
    if (!it->is_string())
        return make_error(Errc::bad_format, field + "." + it.key() + ": must be a string");
    const auto& s = it->get_ref<const std::string&>();
    if (it.key() == "String") return Regex::literal(s, field);
    if (it.key() == "Regex") return Regex::compile(s, field);
    return make_error(Errc::unsupported, field + ": pattern kind \"" + it.key() +
                                             "\" is not supported (supported: String, Regex)");
}

}  // namespace sutra::tokenize
