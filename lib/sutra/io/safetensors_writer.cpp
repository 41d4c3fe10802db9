#include "sutra/io/safetensors_writer.hpp"

#include <nlohmann/json.hpp>

namespace sutra::io {
namespace {

std::string quoted(const std::string& s) {
    return nlohmann::json(s).dump();
}

}  // namespace

std::string build_safetensors_header(
    const std::vector<std::pair<std::string, std::string>>& metadata,
    const std::vector<OutTensor>& tensors) {
    std::string h = "{";
    bool first = true;
    if (!metadata.empty()) {
        h += "\"__metadata__\":{";
        for (size_t i = 0; i < metadata.size(); ++i) {
            if (i) h += ',';
            h += quoted(metadata[i].first) + ':' + quoted(metadata[i].second);
        }
        h += '}';
        first = false;
    }
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        if (!first) h += ',';
        first = false;
        h +=
            quoted(t.name) + ":{\"dtype\":\"" + std::string(dtype_name(t.dtype)) + "\",\"shape\":[";
        for (size_t d = 0; d < t.shape.size(); ++d) {
            if (d) h += ',';
            h += std::to_string(t.shape[d]);
        }
        h += "],\"data_offsets\":[" + std::to_string(offset) + ',' +
             std::to_string(offset + t.nbytes) + "]}";
        offset += t.nbytes;
    }
    h += '}';
    while ((8 + h.size()) % 8 != 0)
        h += ' ';
    return h;
}

std::string header_length_prefix(uint64_t n) {
    std::string p(8, '\0');
    for (int i = 0; i < 8; ++i)
        p[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xffu);
    return p;
}

}  // namespace sutra::io
