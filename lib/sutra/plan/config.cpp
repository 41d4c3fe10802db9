#include "sutra/plan/config.hpp"

#include "sutra/io/strict_json.hpp"
#include "sutra/plan/method.hpp"
#include "sutra/plan/presets_data.hpp"
#include "sutra/quant/quant_type.hpp"

namespace sutra::plan {
namespace {

using json = nlohmann::json;

Error cfg_error(const std::string& what, const std::string& msg) {
    return make_error(Errc::invalid_argument, what + ": " + msg);
}

Result<Settings> parse_settings(const json& j, const std::string& what, const std::string& where,
                                bool allow_match) {
    if (!j.is_object()) return cfg_error(what, where + " must be an object");
    Settings s;
    for (const auto& [k, v] : j.items()) {
        if (k == "bits") {
            if (!v.is_number_integer() || !quant::quant_type_for_bits(v.get<int>()))
                return cfg_error(what, where + ".bits must be 3, 4 or 8");
            s.bits = v.get<int>();
        } else if (k == "group_size") {
            if (v.is_string() && v.get<std::string>() == "row") {
                s.group_size = quant::kGroupRow;
            } else if (v.is_number_unsigned() && v.get<uint64_t>() != 0 &&
                       quant::is_allowed_group_size(static_cast<uint32_t>(v.get<uint64_t>())) &&
                       v.get<uint64_t>() <= 256) {
                s.group_size = static_cast<uint32_t>(v.get<uint64_t>());
            } else {
                return cfg_error(what, where + ".group_size must be 32, 64, 128, 256 or \"row\"");
            }
        } else if (k == "keep") {
            if (!v.is_boolean()) return cfg_error(what, where + ".keep must be true or false");
            s.keep = v.get<bool>();
        } else if (allow_match && (k == "role" || k == "pattern")) {
            continue;
        } else {
            return cfg_error(what, where + ": unknown field \"" + k +
                                       "\" (known: bits, group_size, keep" +
                                       (allow_match ? ", role, pattern)" : ")"));
        }
    }
    return s;
}

json settings_json(const Settings& s) {
    json j = json::object();
    if (s.bits) j["bits"] = *s.bits;
    if (s.group_size) {
        if (*s.group_size == 0)
            j["group_size"] = "row";
        else
            j["group_size"] = *s.group_size;
    }
    if (s.keep) j["keep"] = *s.keep;
    return j;
}

}  // namespace

void Settings::apply(const Settings& over) {
    if (over.bits) bits = over.bits;
    if (over.group_size) group_size = over.group_size;
    if (over.keep) keep = over.keep;
}

bool Rule::matches(std::string_view name, Role r) const {
    if (role && *role != r) return false;
    if (!pattern.empty() && !glob_match(pattern, name)) return false;
    return true;
}

Settings QuantConfig::resolve(std::string_view tensor, Role role) const {
    Settings s = defaults;
    for (const auto& r : rules)
        if (r.matches(tensor, role)) s.apply(r.set);
    return s;
}

nlohmann::ordered_json QuantConfig::to_json() const {
    nlohmann::ordered_json j;
    j["name"] = name;
    j["default"] = settings_json(defaults);
    if (salience_threshold) j["salience_threshold"] = *salience_threshold;
    nlohmann::ordered_json rs = nlohmann::ordered_json::array();
    for (const auto& r : rules) {
        nlohmann::ordered_json o;
        if (r.role) o["role"] = std::string(role_name(*r.role));
        if (!r.pattern.empty()) o["pattern"] = r.pattern;
        const json set = settings_json(r.set);
        for (const auto& [k, v] : set.items())
            o[k] = v;
        rs.push_back(std::move(o));
    }
    j["rules"] = std::move(rs);
    return j;
}

Result<QuantConfig> parse_config(const json& j, const std::string& what) {
    if (!j.is_object()) return cfg_error(what, "a config must be a JSON object");
    QuantConfig c;
    for (const auto& [k, v] : j.items()) {
        if (k == "name" || k == "description") {
            if (!v.is_string()) return cfg_error(what, k + " must be a string");
            (k == "name" ? c.name : c.description) = v.get<std::string>();
        } else if (k == "salience_threshold") {
            if (!v.is_number() || !(v.get<double>() >= 1.0 && v.get<double>() <= 1000.0))
                return cfg_error(what, "salience_threshold must be a number from 1 to 1000");
            c.salience_threshold = v.get<double>();
        } else if (k == "default") {
            SUTRA_ASSIGN(c.defaults, parse_settings(v, what, "default", false));
        } else if (k == "rules") {
            if (!v.is_array()) return cfg_error(what, "rules must be an array");
            for (size_t i = 0; i < v.size(); ++i) {
                const std::string where = "rules[" + std::to_string(i) + "]";
                Rule r;
                SUTRA_ASSIGN(r.set, parse_settings(v[i], what, where, true));
                if (v[i].contains("role")) {
                    const auto& rv = v[i]["role"];
                    auto role = rv.is_string() ? parse_role(rv.get<std::string>()) : std::nullopt;
                    if (!role)
                        return cfg_error(what, where +
                                                   ".role must be one of embedding, attention, "
                                                   "feedforward, output, other");
                    r.role = role;
                }
                if (v[i].contains("pattern")) {
                    if (!v[i]["pattern"].is_string() || v[i]["pattern"].get<std::string>().empty())
                        return cfg_error(what, where + ".pattern must be a non-empty glob string");
                    r.pattern = v[i]["pattern"].get<std::string>();
                }
                if (!r.role && r.pattern.empty())
                    return cfg_error(what, where + " needs a \"role\" or a \"pattern\" to match");
                c.rules.push_back(std::move(r));
            }
        } else {
            return cfg_error(
                what, "unknown field \"" + k +
                          "\" (known: name, description, default, rules, salience_threshold)");
        }
    }
    return c;
}

Result<QuantConfig> load_config_file(const std::string& path) {
    SUTRA_ASSIGN(json j, io::read_strict_json_file(path, io::StrictJsonLimits{16, 16'000'000}));
    SUTRA_ASSIGN(QuantConfig c, parse_config(j, path));
    if (c.name.empty()) c.name = path;
    return c;
}

std::vector<std::string> preset_names() {
    std::vector<std::string> names;
    for (const auto& p : builtin_presets())
        names.emplace_back(p.name);
    return names;
}

Result<QuantConfig> load_preset(std::string_view name) {
    for (const auto& p : builtin_presets()) {
        if (p.name != name) continue;
        const std::string what = "preset " + std::string(name);
        SUTRA_ASSIGN(json j, io::parse_strict_json(p.json, what));
        SUTRA_ASSIGN(QuantConfig c, parse_config(j, what));
        c.name = std::string(name);
        return c;
    }
    return unknown_choice_error("--preset", "preset", name, preset_names());
}

QuantConfig layer_config(const QuantConfig& base, const QuantConfig& over) {
    QuantConfig c = base;
    c.name = base.name + "+" + over.name;
    c.defaults.apply(over.defaults);
    if (over.salience_threshold) c.salience_threshold = over.salience_threshold;
    c.rules.insert(c.rules.end(), over.rules.begin(), over.rules.end());
    return c;
}

std::string group_size_text(uint32_t g) {
    return g == 0 ? "row" : std::to_string(g);
}

}  // namespace sutra::plan
