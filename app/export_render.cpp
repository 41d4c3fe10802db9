#include "export_render.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>

namespace sutra::app {
nlohmann::ordered_json export_json(const pipeline::ExportReport& r) {
    nlohmann::ordered_json j;
    j["schema"] = "sutra.export/1";
    j["format"] = r.format;
    j["output"] = r.output;
    if (r.format == "autoawq") {
        j["quantization_config"] = {
            {"quant_method", "awq"},      {"bits", 4},
            {"group_size", r.group_size}, {"zero_point", true},
            {"version", "gemm"},          {"modules_to_not_convert", r.modules_to_not_convert}};
        j["quantized_linears"] = r.quantized_linears;
        j["weight_files"] = r.weight_files;
    }
    j["copied_files"] = r.copied_files;
    j["output_bytes"] = r.output_bytes;
    j["seconds"] = r.seconds;
    j["peak_rss_bytes"] = r.peak_rss_bytes;
    j["warnings"] = r.warnings;
    auto& ts = j["tensors"] = nlohmann::ordered_json::array();
    for (const auto& t : r.tensors) {
        nlohmann::ordered_json o;
        o["name"] = t.name;
        o["type"] = t.type;
        o["shape"] = t.shape;
        if (!t.note.empty()) o["note"] = t.note;
        ts.push_back(std::move(o));
    }
    return j;
}

void print_export(const pipeline::ExportReport& r, const GlobalOptions& g, bool json) {
    for (const auto& w : r.warnings)
        spdlog::warn("{}", one_line(w));
    if (json) {
        std::printf("%s\n", export_json(r).dump(2).c_str());
        return;
    }
    if (g.verbose > 0) {
        std::printf("%-56s %-12s %-16s %s\n", "tensor", "type", "shape", "note");
        for (const auto& t : r.tensors)
            std::printf("%-56s %-12s %-16s %s\n", t.name.c_str(), t.type.c_str(),
                        shape_text(t.shape).c_str(), t.note.c_str());
    }
    std::string what;
    if (r.format == "autoawq") {
        what =
            std::to_string(r.quantized_linears) + " linears 4-bit g" + std::to_string(r.group_size);
        if (!r.modules_to_not_convert.empty())
            what += ", " + std::to_string(r.modules_to_not_convert.size()) +
                    " kept in F16 (modules_to_not_convert)";
        what += ", " + std::to_string(r.weight_files.size()) + " weight file" +
                (r.weight_files.size() == 1 ? "" : "s");
    } else {
        what = std::to_string(r.tensors.size()) + " tensors";
    }
    std::printf("wrote %s (%s): %s, %s, peak memory %s, %s s\n", r.output.c_str(), r.format.c_str(),
                what.c_str(), human_bytes(r.output_bytes).c_str(),
                human_bytes(r.peak_rss_bytes).c_str(), fixed(r.seconds, 3).c_str());
}

}  // namespace sutra::app
