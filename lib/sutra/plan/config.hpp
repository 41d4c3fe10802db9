#pragma once
// Quantization configs: the presets in configs/*.json and user --config files share one JSON
// schema (documented in the README):
//   { "name": "...", "description": "...",
//     "default": { "bits": 4, "group_size": 128 }, "salience_threshold": 2.0,
//     "rules": [ { "role": "embedding", "bits": 8 },
//                { "pattern": "*.layers.0.*", "keep": true } ] }
// Settings: bits (3, 4, 8), group_size (32, 64, 128, 256 or "row"), keep (true: store the
// tensor unchanged). A rule matches by role, by glob pattern on the full name, or both; rules
// apply in order and a later match overrides the fields it sets.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/plan/role.hpp"

namespace sutra::plan {

struct Settings {
    std::optional<int> bits;
    std::optional<uint32_t> group_size;  // 0 = whole row
    std::optional<bool> keep;
    void apply(const Settings& over);
};

struct Rule {
    std::optional<Role> role;
    std::string pattern;  // empty: any name
    Settings set;
    bool matches(std::string_view name, Role r) const;
};

struct QuantConfig {
    std::string name;
    std::string description;
    Settings defaults;
    std::vector<Rule> rules;
    // Data-free salience (quantize without calibration): an input channel of a linear that
    // follows a norm is high-salience when |norm weight| >= salience_threshold x the median
    // |norm weight| of that norm; those channels are scaled up before quantization (1/s folded
    // into the norm). Absent: plain round-to-nearest.
    std::optional<double> salience_threshold;

    // The settings a tensor gets: defaults, then every matching rule in order.
    Settings resolve(std::string_view tensor, Role role) const;
    nlohmann::ordered_json to_json() const;
};

// `what` names the source in messages (a file path or "preset balanced").
Result<QuantConfig> parse_config(const nlohmann::json& j, const std::string& what);
Result<QuantConfig> load_config_file(const std::string& path);

// Built-in presets, compiled in from configs/*.json.
std::vector<std::string> preset_names();
Result<QuantConfig> load_preset(std::string_view name);

// Layers `over` on top of `base`: its defaults override, its rules come after base's.
QuantConfig layer_config(const QuantConfig& base, const QuantConfig& over);

std::string group_size_text(uint32_t g);  // "128" or "row"

}  // namespace sutra::plan
