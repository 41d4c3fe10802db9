#pragma once
// Parses small JSON documents (shard index, config files, the .qbin profile) into a DOM,
// refusing what the JSON library would accept silently: duplicate keys, nesting deeper than
// max_depth, a byte-order mark, NUL bytes, and documents larger than max_bytes.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "sutra/base/error.hpp"

namespace sutra::io {

struct StrictJsonLimits {
    int max_depth = 32;
    uint64_t max_bytes = 100'000'000;
};

// `what` names the document in messages ("model.safetensors.index.json").
Result<nlohmann::json> parse_strict_json(std::string_view text, const std::string& what,
                                         StrictJsonLimits limits = {});

// The same, keeping object keys in document order.
Result<nlohmann::ordered_json> parse_strict_ordered_json(std::string_view text,
                                                         const std::string& what,
                                                         StrictJsonLimits limits = {});

// Reads a whole file as text; refuses one larger than limits.max_bytes.
Result<std::string> read_small_file(const std::string& path, StrictJsonLimits limits = {});

// Reads a whole file (at most limits.max_bytes) and parses it.
Result<nlohmann::json> read_strict_json_file(const std::string& path, StrictJsonLimits limits = {});
Result<nlohmann::ordered_json> read_strict_ordered_json_file(const std::string& path,
                                                             StrictJsonLimits limits = {});

}  // namespace sutra::io
