#include "sutra/model/rwkv/rwkv_names.hpp"

#include <array>
#include <utility>

namespace sutra::model::rwkv {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string Names::in_block(std::string_view name) const {
    if (naming_ == Naming::rwkv_cpp) return std::string(name);
    // Leading module, then the parameter of the time-mix vectors.
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kModules = {{
        {"att.", "attention."},
        {"ffn.", "feed_forward."},
        {"ln0.", "pre_ln."},
    }};
    std::string out;
    std::string_view rest = name;
    for (const auto& [from, to] : kModules) {
        if (starts_with(rest, from)) {
            out = to;
            rest.remove_prefix(from.size());
            break;
        }
    }
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kMix = {{
        {"time_mix_k", "time_mix_key"},
        {"time_mix_v", "time_mix_value"},
        {"time_mix_r", "time_mix_receptance"},
    }};
    for (const auto& [from, to] : kMix) {
        if (rest == from) return out + std::string(to);
    }
    return out + std::string(rest);
}

std::string Names::block(int layer, std::string_view name) const {
    const std::string prefix = naming_ == Naming::rwkv_cpp ? "blocks." : "rwkv.blocks.";
    return prefix + std::to_string(layer) + "." + in_block(name);
}

std::string Names::global(std::string_view name) const {
    if (naming_ == Naming::rwkv_cpp || starts_with(name, "head.")) return std::string(name);
    if (starts_with(name, "emb.")) return "rwkv.embeddings." + std::string(name.substr(4));
    return "rwkv." + std::string(name);
}

}  // namespace sutra::model::rwkv
