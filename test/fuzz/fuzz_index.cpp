// libFuzzer target: the shard index parser (io::parse_shard_index, the text of
// model.safetensors.index.json) and the check of every shard path it names
// (io::resolve_shard_path). Every input must give an index or an error value, never a crash,
// an exception or unbounded work. An accepted index is checked against the invariants
// io::Checkpoint::open relies on, and an accepted shard path must stay inside the folder.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_set>

#include "sutra/io/shard_index.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::string what = "model.safetensors.index.json";
    auto index = sutra::io::parse_shard_index(text, what);
    if (!index.ok()) return 0;
    // Accepted: at least one shard, every shard named by a tensor, tensor names unique.
    if (index->shards.empty() || index->tensors.empty()) std::abort();
    std::unordered_set<std::string> names;
    std::vector<bool> used(index->shards.size(), false);
    for (const auto& [name, shard] : index->tensors) {
        if (shard >= index->shards.size() || !names.insert(name).second) std::abort();
        used[shard] = true;
    }
    for (bool u : used)
        if (!u) std::abort();
    const std::filesystem::path dir = "/model";
    for (const auto& name : index->shards) {
        auto p = sutra::io::resolve_shard_path(dir, name, what);
        if (!p.ok()) continue;
        // Inside the folder: /model followed by the relative name, no ".." anywhere.
        const auto rel = p->lexically_relative(dir);
        if (rel.empty() || p->is_relative()) std::abort();
        for (const auto& part : rel)
            if (part == "..") std::abort();
    }
    return 0;
}
