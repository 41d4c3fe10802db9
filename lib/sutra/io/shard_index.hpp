#pragma once
// Pure parser of a sharded checkpoint's index, model.safetensors.index.json (text in,
// description out). The root is an object with an object "weight_map" that maps every tensor
// name to the file name of the shard holding it; other fields ("metadata") are ignored. The
// JSON is strict (io/strict_json.hpp): no duplicate keys, nesting at most kMaxIndexDepth.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sutra/base/error.hpp"

namespace sutra::io {

inline constexpr int kMaxIndexDepth = 8;
inline constexpr uint64_t kMaxIndexBytes = 100'000'000;

struct ShardIndex {
    std::vector<std::string> shards;                        // in order of first appearance
    std::vector<std::pair<std::string, uint32_t>> tensors;  // name, index into shards; in
                                                            // index order, names unique
};

// `what` names the index in messages. Fails if weight_map is missing, not an object, empty, or
// maps a tensor to something other than a string.
Result<ShardIndex> parse_shard_index(std::string_view text, const std::string& what);

// The path of shard `name` of the index in folder `dir`: `name` must be a non-empty relative
// path that does not leave the folder (no ".." component).
Result<std::filesystem::path> resolve_shard_path(const std::filesystem::path& dir,
                                                 const std::string& name, const std::string& what);

}  // namespace sutra::io
