// sutra inspect FILE [--json]
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "sutra/pipeline/inspect.hpp"
#include "sutra/plan/config.hpp"

namespace sutra::app {
Runner add_inspect(CLI::App& app, const GlobalOptions&) {
    auto path = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    auto salience = std::make_shared<bool>(false);
    auto threshold = std::make_shared<double>(0);
    app.add_option("file", *path, ".safetensors file, *.index.json, model folder, or .qbin")
        ->required();
    app.add_flag("--json", *json, "Print the result as JSON on stdout");
    app.add_flag("--salience", *salience,
                 "Report each linear's share of high-salience input channels (data-free, from the "
                 "preceding norm)");
    app.add_option(
        "--salience-threshold", *threshold,
        "High-salience cut: |norm weight| >= X * median (default: the balanced preset's)");
    return [path, json, salience, threshold]() -> int {
        std::optional<double> th;
        if (*salience) {
            if (*threshold > 0) {
                th = *threshold;
            } else {
                auto p = plan::load_preset("balanced");
                if (!p) return fail(p.error());
                th = p->salience_threshold.value_or(1.0);
            }
        }
        auto r = pipeline::run_inspect(*path, th);
        if (!r) return fail(r.error());
        if (*json) {
            nlohmann::ordered_json j;
            j["schema"] = "sutra.inspect/1";
            j["path"] = r->path;
            j["kind"] = r->kind;
            j["files"] = r->files;
            j["file_bytes"] = r->file_bytes;
            nlohmann::ordered_json meta = nlohmann::ordered_json::object();
            for (const auto& [k, v] : r->metadata)
                meta[k] = v;
            j["metadata"] = std::move(meta);
            if (r->kind == "qbin") j["profile"] = r->profile;
            if (r->kind != "qbin") {
                j["tokenizer"] = r->tokenizer;
                j["tokenizer_file"] = r->tokenizer_file;
            }
            auto& ts = j["tensors"] = nlohmann::ordered_json::array();
            for (const auto& t : r->tensors) {
                nlohmann::ordered_json o;
                o["name"] = t.name;
                o["dtype"] = t.dtype;
                o["encoding"] = t.encoding;
                if (!t.group_size.empty()) o["group_size"] = t.group_size;
                o["shape"] = t.shape;
                o["bytes"] = t.bytes;
                if (th && t.salient_share >= 0) o["salient_share"] = t.salient_share;
                ts.push_back(std::move(o));
            }
            std::printf("%s\n", j.dump(2).c_str());
            return kExitOk;
        }
        std::printf("%s: %s, %zu file(s), %s, %zu tensors\n", r->path.c_str(), r->kind.c_str(),
                    r->files.size(), human_bytes(r->file_bytes).c_str(), r->tensors.size());
        for (const auto& [k, v] : r->metadata)
            std::printf("  metadata %s = %s\n", k.c_str(), v.c_str());
        if (r->kind != "qbin") std::printf("  tokenizer %s\n", r->tokenizer.c_str());
        if (r->kind == "qbin") {
            auto get = [&](const char* k) {
                return r->profile.contains(k) ? r->profile[k].dump() : std::string("?");
            };
            std::printf("  format %s version %s, written by %s\n", get("format").c_str(),
                        get("format_version").c_str(), get("tool").c_str());
            if (r->profile.contains("config"))
                std::printf("  config %s\n", r->profile["config"].dump().c_str());
        }
        std::printf("%-56s %-11s %-8s %-6s %-14s %10s%s\n", "tensor", "dtype", "encoding", "group",
                    "shape", "bytes", th ? "  salient" : "");
        for (const auto& t : r->tensors) {
            std::string sal;
            if (th)
                sal = t.salient_share >= 0 ? "  " + fixed(100.0 * t.salient_share, 1) + "%" : "  -";
            std::printf("%-56s %-11s %-8s %-6s %-14s %10llu%s\n", t.name.c_str(), t.dtype.c_str(),
                        t.encoding.c_str(), t.group_size.empty() ? "-" : t.group_size.c_str(),
                        shape_text(t.shape).c_str(), static_cast<unsigned long long>(t.bytes),
                        sal.c_str());
        }
        if (th)
            std::printf("salient: share of input channels with |norm weight| >= %s x median\n",
                        fixed(*th, 2).c_str());
        return kExitOk;
    };
}

}  // namespace sutra::app
