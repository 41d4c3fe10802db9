#include "sutra/io/shard_index.hpp"

#include <unordered_map>

#include "sutra/io/strict_json.hpp"

namespace sutra::io {

Result<ShardIndex> parse_shard_index(std::string_view text, const std::string& what) {
    SUTRA_ASSIGN(
        nlohmann::ordered_json index,
        parse_strict_ordered_json(text, what, StrictJsonLimits{kMaxIndexDepth, kMaxIndexBytes}));
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        return make_error(Errc::bad_format,
                          what + ": not a shard index (needs an object \"weight_map\")");
    ShardIndex out;
    std::unordered_map<std::string, uint32_t> shard_ids;
    for (const auto& [tname, shard] : index["weight_map"].items()) {
        if (!shard.is_string())
            return make_error(Errc::bad_format,
                              what + ": weight_map[\"" + tname + "\"] must be a shard file name");
        const auto& s = shard.get_ref<const std::string&>();
        auto [it, inserted] = shard_ids.emplace(s, static_cast<uint32_t>(out.shards.size()));
        if (inserted) out.shards.push_back(s);
        out.tensors.emplace_back(tname, it->second);
    }
    if (out.shards.empty())
        return make_error(Errc::bad_format, what + ": weight_map lists no tensors");
    return out;
}

Result<std::filesystem::path> resolve_shard_path(const std::filesystem::path& dir,
                                                 const std::string& name, const std::string& what) {
    const std::filesystem::path rel(name);
    if (name.empty() || rel.is_absolute())
        return make_error(Errc::bad_format, what + ": shard path \"" + name +
                                                "\" must be relative to the index's folder");
    for (const auto& part : rel) {
        if (part == "..")
            return make_error(Errc::bad_format,
                              what + ": shard path \"" + name +
                                  "\" leaves the model folder ('..' is not allowed)");
    }
    return dir / rel;
}

}  // namespace sutra::io
