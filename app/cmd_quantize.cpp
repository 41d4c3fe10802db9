// sutra quantize MODEL -o OUT.qbin [--preset P] [--config FILE] [--bits N] [--group-size G] ...
#include <spdlog/spdlog.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "sutra/pipeline/quantize.hpp"
#include "sutra/plan/config.hpp"
#include "sutra/quant/quant_type.hpp"

namespace sutra::app {
namespace {

struct Args {
    std::string input, output, preset = "balanced", config, group, method = "auto", calib,
                               calib_text;
    int64_t calib_tokens = 16384, seq_len = 256;
    int grid = 20;
    bool duo = false, no_clip = false;
    int bits = 0;
    bool force = false, dry_run = false, json = false;
};

std::string shape_text(const std::vector<uint64_t>& s) {
    std::string t = "[";
    for (size_t i = 0; i < s.size(); ++i)
        t += (i ? ", " : "") + std::to_string(s[i]);
    return t + "]";
}

nlohmann::ordered_json to_json(const pipeline::QuantizeReport& r) {
    nlohmann::ordered_json j;
    j["schema"] = "sutra.quantize/1";
    j["dry_run"] = r.dry_run;
    j["method"] = r.method;
    j["output"] = r.output;
    j["config"] = r.config;
    j["tensors_quantized"] = r.quantized;
    j["tensors_kept"] = r.kept;
    j["input_bytes"] = r.input_file_bytes;
    j["output_bytes"] = r.output_file_bytes;
    j["compression_ratio"] = r.ratio;
    j["saved_bytes"] =
        r.input_file_bytes > r.output_file_bytes ? r.input_file_bytes - r.output_file_bytes : 0;
    j["peak_rss_bytes"] = r.peak_rss_bytes;
    j["seconds"] = r.seconds;
    j["warnings"] = r.warnings;
    if (!r.salience.empty()) {
        auto& groups = j["salience"] = nlohmann::ordered_json::array();
        for (const auto& g : r.salience)
            groups.push_back({{"norm", g.norm},
                              {"salient_share", g.salient_share},
                              {"alpha", g.best_alpha},
                              {"proxy_loss_rtn", g.loss_plain},
                              {"proxy_loss", g.loss_best}});
    }
    if (!r.awq.empty()) {
        auto& layers = j["awq"] = nlohmann::ordered_json::array();
        for (const auto& l : r.awq) {
            nlohmann::ordered_json o;
            o["layer"] = l.layer;
            for (const auto& g : l.groups) {
                if (!g.searched) continue;
                o[g.group] = {
                    {"alpha", g.best_alpha}, {"loss_rtn", g.loss_plain}, {"loss_awq", g.loss_best}};
            }
            layers.push_back(std::move(o));
        }
    }
    auto& ts = j["tensors"] = nlohmann::ordered_json::array();
    for (const auto& t : r.tensors) {
        nlohmann::ordered_json o;
        o["name"] = t.name;
        o["role"] = t.role;
        o["dtype"] = t.dtype;
        o["shape"] = t.shape;
        o["encoding"] = t.encoding;
        if (t.quantized) {
            o["bits"] = t.bits;
            o["group_size"] = t.group_size;
            o["group_width"] = t.group_width;
        } else {
            o["keep_reason"] = t.keep_reason;
        }
        o["input_bytes"] = t.input_bytes;
        o["stored_bytes"] = t.stored_bytes;
        ts.push_back(std::move(o));
    }
    return j;
}

void print_plan(const pipeline::QuantizeReport& r) {
    std::printf("%-52s %-11s %-8s %-12s %-14s %10s %10s\n", "tensor", "role", "dtype", "shape",
                "action", "in", "out");
    for (const auto& t : r.tensors) {
        std::string action =
            t.quantized ? t.encoding + " g" + t.group_size : "keep (" + t.keep_reason + ")";
        std::printf("%-52s %-11s %-8s %-12s %-14s %10s %10s\n", t.name.c_str(), t.role.c_str(),
                    t.dtype.c_str(), shape_text(t.shape).c_str(), action.c_str(),
                    human_bytes(t.input_bytes).c_str(), human_bytes(t.stored_bytes).c_str());
    }
}

void print_summary(const pipeline::QuantizeReport& r) {
    const uint64_t saved =
        r.input_file_bytes > r.output_file_bytes ? r.input_file_bytes - r.output_file_bytes : 0;
    std::printf("%s %s\n", r.dry_run ? "would write" : "wrote", r.output.c_str());
    std::printf("  method       %s\n", r.method.c_str());
    std::printf("  tensors      %zu quantized, %zu kept\n", r.quantized, r.kept);
    std::printf("  size         %s -> %s (exactly %llu bytes)\n",
                human_bytes(r.input_file_bytes).c_str(), human_bytes(r.output_file_bytes).c_str(),
                static_cast<unsigned long long>(r.output_file_bytes));
    std::printf("  ratio        %sx, %s saved\n", fixed(r.ratio, 2).c_str(),
                human_bytes(saved).c_str());
    std::printf("  peak memory  %s\n", human_bytes(r.peak_rss_bytes).c_str());
    std::printf("  time         %s s\n", fixed(r.seconds, 3).c_str());
}

}  // namespace

Runner add_quantize(CLI::App& app, const GlobalOptions& g) {
    auto a = std::make_shared<Args>();
    app.add_option("model", a->input,
                   "Checkpoint: .safetensors file, *.index.json, or model folder")
        ->required();
    app.add_option("-o,--output", a->output, "Output .qbin file")->required();
    std::string presets;
    for (const auto& p : plan::preset_names())
        presets += (presets.empty() ? "" : ", ") + p;
    app.add_option("--preset", a->preset, "Preset: " + presets + " (default balanced)");
    app.add_option("--config", a->config, "JSON config file layered on the preset (see README)");
    app.add_option("--bits", a->bits,
                   "Bits for every quantized tensor: 3, 4 or 8 (overrides preset/config)");
    app.add_option("--group-size", a->group,
                   "Group size for every quantized tensor: 32, 64, 128, 256 or row");
    app.add_option("--method", a->method, "auto (AWQ with calibration, else RTN), rtn or awq");
    app.add_option("--calib", a->calib,
                   "Activation statistics from `sutra calibrate` (enables AWQ)");
    app.add_option("--calib-text", a->calib_text, "Calibrate on this text now (enables AWQ)");
    app.add_option("--calib-tokens", a->calib_tokens,
                   "With --calib-text: text tokens used (default 16384, 0 = all)");
    app.add_option("--seq-len", a->seq_len,
                   "With --calib-text: calibration window length (default 256)");
    app.add_option("--awq-grid", a->grid, "AWQ: number of alpha values searched (default 20)");
    app.add_flag("--awq-duo", a->duo, "AWQ: scale by activation and weight salience (duo scaling)");
    app.add_flag("--no-clip", a->no_clip, "AWQ: skip the per-group clipping search");
    app.add_flag("--force", a->force, "Overwrite the output if it exists");
    app.add_flag("--dry-run", a->dry_run,
                 "Print the plan and the exact output size; write nothing");
    app.add_flag("--json", a->json, "Print the result as JSON on stdout");

    return [a, &g]() -> int {
        pipeline::QuantizeOptions opt;
        opt.input = a->input;
        opt.output = a->output;
        opt.preset = a->preset;
        if (!a->config.empty()) opt.config_file = a->config;
        if (a->bits != 0) {
            if (!quant::quant_type_for_bits(a->bits))
                return fail(make_error(Errc::invalid_argument, "--bits must be 3, 4 or 8"));
            opt.overrides.bits = a->bits;
        }
        if (!a->group.empty()) {
            if (a->group == "row") {
                opt.overrides.group_size = quant::kGroupRow;
            } else {
                const auto& gs = quant::allowed_group_sizes();
                uint32_t v = 0;
                for (auto x : gs)
                    if (x != 0 && std::to_string(x) == a->group) v = x;
                if (v == 0)
                    return fail(make_error(Errc::invalid_argument,
                                           "--group-size must be 32, 64, 128, 256 or row"));
                opt.overrides.group_size = v;
            }
        }
        opt.force = a->force;
        opt.dry_run = a->dry_run;
        opt.method = a->method;
        if (!a->calib.empty()) opt.calib = a->calib;
        if (!a->calib_text.empty()) opt.calib_text = a->calib_text;
        opt.calib_tokens = a->calib_tokens;
        opt.calib_seq_len = a->seq_len;
        opt.awq.grid = a->grid;
        opt.awq.duo_scaling = a->duo;
        opt.awq.clip = !a->no_clip;
        auto progress = make_progress(g);
        auto r = pipeline::run_quantize(opt, progress.get());
        if (!r) return fail(r.error());
        for (const auto& w : r->warnings)
            spdlog::warn("{}", one_line(w));
        if (a->json) {
            std::printf("%s\n", to_json(*r).dump(2).c_str());
        } else {
            if (a->dry_run || g.verbose > 0) print_plan(*r);
            print_summary(*r);
        }
        return kExitOk;
    };
}

}  // namespace sutra::app
