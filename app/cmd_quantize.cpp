// sutra quantize MODEL -o OUT.qbin [--preset P] [--config FILE] [--bits N] [--group-size G] ...
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "export_render.hpp"
#include "quant_flags.hpp"
#include "sutra/pipeline/batch_manifest.hpp"
#include "sutra/pipeline/quantize.hpp"
#include "sutra/pipeline/quantize_export.hpp"

namespace sutra::app {
namespace {

struct QuantizeArgs {
    std::string input, output, method = "auto";
    QuantFlags q;
    bool force = false, dry_run = false, json = false;
    std::string format = "qbin", gguf_type;  // --format: qbin, or an export format
    bool keep_unsupported = false;
    std::string batch;  // --batch MANIFEST.jsonl
    std::string part;   // --part K/N | env
    size_t parts = 0;   // --parts N
};

// GPTQ's report: thread-seconds per step, and per layer the linears (with their output error
// against RTN's when measured) and, for AWQ + GPTQ, the alphas.
nlohmann::ordered_json gptq_json(const pipeline::GptqRunReport& g) {
    nlohmann::ordered_json j;
    j["thread_seconds"] = {{"forward", g.times.forward},
                           {"hessian", g.times.hessian},
                           {"factor", g.times.factor},
                           {"update", g.times.update}};
    auto& layers = j["layers"] = nlohmann::ordered_json::array();
    for (const auto& l : g.layers) {
        nlohmann::ordered_json o;
        o["layer"] = l.layer;
        for (const auto& lin : l.linears) {
            nlohmann::ordered_json x;
            x["dead_columns"] = lin.dead_columns;
            if (lin.error_rtn > 0 || lin.error_gptq > 0) {
                x["output_error_gptq"] = lin.error_gptq;
                x["output_error_rtn"] = lin.error_rtn;
            }
            o["linears"][lin.linear] = std::move(x);
        }
        for (const auto& a : l.awq_groups)
            if (a.searched)
                o["awq"][a.group] = {
                    {"alpha", a.best_alpha}, {"loss_rtn", a.loss_plain}, {"loss_awq", a.loss_best}};
        layers.push_back(std::move(o));
    }
    return j;
}

nlohmann::ordered_json to_json(const pipeline::QuantizeReport& r) {
    nlohmann::ordered_json j;
    j["schema"] = "sutra.quantize/1";
    j["dry_run"] = r.dry_run;
    j["method"] = r.method;
    if (r.calib_windows > 0) {
        auto& c = j["calibration"];
        c["windows"] = r.calib_windows;
        c["seq_len"] = r.calib_seq_len;
        if (!r.calib_tokenizer.empty()) {
            c["tokenizer"] = r.calib_tokenizer;
            c["text_tokens"] = r.calib_text_tokens;
        }
    }
    if (r.calib_imatrix) {
        auto& c = j["calibration"];
        c["imatrix"] = std::string(calib::imatrix_layout_name(r.calib_imatrix->layout));
        c["chunk_count"] = r.calib_imatrix->chunk_count;
        c["chunk_size"] = r.calib_imatrix->chunk_size;
        c["datasets"] = r.calib_imatrix->datasets;
    }
    if (!r.awq_loss.empty()) j["awq_loss"] = r.awq_loss;
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
    j["threads"] = r.threads;
    j["isa"] = r.isa;
    if (!r.dry_run) {
        auto& st = j["stage_seconds"] = nlohmann::ordered_json::object();
        for (size_t i = 0; i < pipeline::kStageCount; ++i)
            st[std::string(pipeline::kStageNames[i])] = static_cast<double>(r.stages.ns[i]) * 1e-9;
    }
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
    if (r.gptq) j["gptq"] = gptq_json(*r.gptq);
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
    if (r.calib_windows > 0) {
        std::printf("  calibration  %lld windows of %lld tokens",
                    static_cast<long long>(r.calib_windows),
                    static_cast<long long>(r.calib_seq_len));
        if (!r.calib_tokenizer.empty())
            std::printf(" from %lld text tokens (%s)", static_cast<long long>(r.calib_text_tokens),
                        r.calib_tokenizer.c_str());
        std::printf("\n");
    }
    if (r.calib_imatrix) {
        std::printf("  calibration  llama.cpp imatrix (%s layout",
                    std::string(calib::imatrix_layout_name(r.calib_imatrix->layout)).c_str());
        if (r.calib_imatrix->chunk_count >= 0)
            std::printf(", %lld chunks", static_cast<long long>(r.calib_imatrix->chunk_count));
        if (r.calib_imatrix->chunk_size >= 0)
            std::printf(" of %lld tokens", static_cast<long long>(r.calib_imatrix->chunk_size));
        std::printf("), per-linear AWQ loss\n");
    }
    if (r.gptq) {
        const auto& t = r.gptq->times;
        std::printf(
            "  gptq         thread-seconds: forward %s, Hessians %s, factors %s, "
            "updates %s\n",
            fixed(t.forward, 1).c_str(), fixed(t.hessian, 1).c_str(), fixed(t.factor, 1).c_str(),
            fixed(t.update, 1).c_str());
        double eg = 0, er = 0;
        for (const auto& l : r.gptq->layers)
            for (const auto& lin : l.linears) {
                eg += lin.error_gptq;
                er += lin.error_rtn;
            }
        if (er > 0)
            std::printf("  gptq error   output error on the calibration inputs %s%% of RTN's\n",
                        fixed(100.0 * eg / er, 1).c_str());
    }
    std::printf("  tensors      %zu quantized, %zu kept\n", r.quantized, r.kept);
    std::printf("  size         %s -> %s (exactly %llu bytes)\n",
                human_bytes(r.input_file_bytes).c_str(), human_bytes(r.output_file_bytes).c_str(),
                static_cast<unsigned long long>(r.output_file_bytes));
    std::printf("  ratio        %sx, %s saved\n", fixed(r.ratio, 2).c_str(),
                human_bytes(saved).c_str());
    std::printf("  peak memory  %s (resident)\n", human_bytes(r.peak_rss_bytes).c_str());
    std::printf("  time         %s s, %u threads, %s kernels\n", fixed(r.seconds, 3).c_str(),
                r.threads, r.isa.c_str());
}

// The command's own options (those a --batch job's "args" may give too).
void add_job_options(CLI::App& app, QuantizeArgs& a) {
    add_quant_flags(app, a.q);
    app.add_option(
        "--method", a.method,
        "auto (AWQ with calibration, else RTN), rtn, awq, gptq or awq+gptq (calibrated)");
    app.add_flag("--force", a.force, "Overwrite the output if it exists");
    app.add_flag("--dry-run", a.dry_run, "Print the plan and the exact output size; write nothing");
    app.add_option("--format", a.format,
                   "qbin (default), or autoawq / gguf: quantize, then export to -o in one step "
                   "(as `sutra export`)")
        ->check(choice_check("format", {"qbin", "autoawq", "gguf"}));
    app.add_flag("--keep-unsupported", a.keep_unsupported,
                 "With --format autoawq: as `sutra export --keep-unsupported`");
    app.add_option("--gguf-type", a.gguf_type, "With --format gguf: as `sutra export --gguf-type`");
    app.add_option("--part", a.part,
                   "K/N: quantize only part K of N into OUT.part-K-of-N (for `sutra merge`); "
                   "env: K and N from a Slurm job array or a Kubernetes Indexed Job");
    app.add_option("--parts", a.parts,
                   "With --part env on Kubernetes: the number of parts (the Job's completions)");
}

// One quantization: warnings logged, the report returned; `print` prints the text summary
// (and plan) as the single command does.
Result<nlohmann::ordered_json> run_job(const QuantizeArgs& a, const GlobalOptions& g, bool print) {
    pipeline::QuantizeOptions opt;
    opt.input = a.input;
    opt.output = a.output;
    SUTRA_TRY(apply_quant_flags(a.q, g, opt));
    opt.force = a.force;
    opt.dry_run = a.dry_run;
    opt.method = a.method;
    if (!a.part.empty()) {
        if (a.format != "qbin")
            return make_error(Errc::invalid_argument,
                              "--part writes parts of a .qbin; export the merged .qbin with "
                              "`sutra export` (not --format " +
                                  a.format + ")");
        SUTRA_ASSIGN(opt.part, parts::parse_part(
                                   a.part, a.parts ? std::optional<size_t>(a.parts) : std::nullopt,
                                   [](const char* n) { return std::getenv(n); }));
    } else if (a.parts) {
        return make_error(Errc::invalid_argument, "--parts goes with --part env");
    }
    auto progress = make_progress(g);
    if (a.format != "qbin") {  // quantize, then export (pipeline/quantize_export.hpp)
        SUTRA_ASSIGN(const auto fmt, pipeline::parse_export_format(a.format));
        pipeline::ExportOptions eo;
        eo.output = a.output;
        eo.format = fmt;
        eo.force = a.force;
        eo.keep_unsupported = a.keep_unsupported;
        eo.gguf_type = a.gguf_type;
        eo.threads = g.threads;
        SUTRA_ASSIGN(auto qe, pipeline::run_quantize_export(opt, eo, progress.get()));
        for (const auto& w : qe.quantize.warnings)
            spdlog::warn("{}", one_line(w));
        for (const auto& w : qe.exported.warnings)
            spdlog::warn("{}", one_line(w));
        qe.quantize.output = qe.exported.output + " (" + a.format + ")";
        if (print) {
            print_summary(qe.quantize);
            print_export(qe.exported, g, false);
        }
        auto j = to_json(qe.quantize);
        j["export"] = export_json(qe.exported);
        return j;
    }
    SUTRA_ASSIGN(auto r, pipeline::run_quantize(opt, progress.get()));
    for (const auto& w : r.warnings)
        spdlog::warn("{}", one_line(w));
    if (print) {
        if (a.dry_run || g.verbose > 0) print_plan(r);
        print_summary(r);
    }
    return to_json(r);
}

// --batch: every job of the manifest in order, each parsed as `sutra quantize MODEL -o OUTPUT
// ARGS...` and run; one JSON line per job on stdout, whatever happened to it. Exit 0 when all
// succeeded, 1 when any failed, 2 when the manifest itself is refused (nothing runs then).
int run_batch(const std::string& manifest, const GlobalOptions& g) {
    auto jobs = pipeline::read_batch_manifest(manifest);
    if (!jobs) return fail(jobs.error());
    size_t failed = 0;
    for (const auto& job : *jobs) {
        nlohmann::ordered_json line;
        line["schema"] = "sutra.batch/1";
        line["line"] = job.line;
        line["model"] = job.model;
        line["output"] = job.output;
        QuantizeArgs a;
        CLI::App sub("sutra quantize (a --batch job)", "quantize");
        sub.add_option("model", a.input)->required();
        sub.add_option("-o,--output", a.output)->required();
        add_job_options(sub, a);
        std::vector<std::string> argv{job.model, "-o", job.output};
        argv.insert(argv.end(), job.args.begin(), job.args.end());
        std::reverse(argv.begin(), argv.end());  // CLI11 takes a vector last argument first
        std::string error;
        try {
            sub.parse(argv);
        } catch (const CLI::ParseError& e) {
            error = std::string(e.what()) + " (in \"args\")";
        }
        if (error.empty()) {
            spdlog::info("batch: line {}: {} -> {}", job.line, job.model, job.output);
            auto r = run_job(a, g, false);
            if (r)
                line["result"] = std::move(*r);
            else
                error = one_line(r.error().message);
        }
        line["ok"] = error.empty();
        line["exit_code"] = error.empty() ? kExitOk : kExitError;
        if (!error.empty()) {
            ++failed;
            line["error"] = error;
            spdlog::error("batch: {} line {}: {}", manifest, job.line, error);
        }
        std::printf("%s\n", line.dump().c_str());
        std::fflush(stdout);
    }
    if (failed > 0) {
        spdlog::error("batch: {} of {} jobs failed", failed, jobs->size());
        return kExitCheckFailed;
    }
    return kExitOk;
}

}  // namespace

Runner add_quantize(CLI::App& app, const GlobalOptions& g) {
    auto a = std::make_shared<QuantizeArgs>();
    app.add_option("model", a->input,
                   "Checkpoint: .safetensors file, *.index.json, or model folder");
    app.add_option("-o,--output", a->output,
                   "Output .qbin file (--format autoawq: a folder; gguf: a .gguf file)");
    add_job_options(app, *a);
    app.add_flag("--json", a->json, "Print the result as JSON on stdout");
    app.add_option("--batch", a->batch,
                   "Run the jobs of a JSON Lines manifest ({\"model\", \"output\", \"args\"} "
                   "per line), one JSON result line each on stdout; exit 1 if any failed");

    return [a, &g, self = &app]() -> int {
        if (!a->batch.empty()) {
            for (const CLI::Option* o : self->get_options()) {
                if (o->count() == 0 || o->check_name("--batch")) continue;
                return fail(make_error(Errc::invalid_argument,
                                       "quantize --batch takes the models, outputs and flags "
                                       "from the manifest's lines; " +
                                           o->get_name(false, true) +
                                           " cannot go with it (put it in a job's \"args\"; "
                                           "the result lines are JSON already)"));
            }
            return run_batch(a->batch, g);
        }
        if (a->input.empty() || a->output.empty())
            return fail(make_error(Errc::invalid_argument,
                                   "quantize needs MODEL and -o OUT.qbin (or --batch "
                                   "MANIFEST.jsonl); see sutra quantize --help"));
        auto r = run_job(*a, g, !a->json);
        if (!r) return fail(r.error());
        if (a->json) std::printf("%s\n", r->dump(2).c_str());
        return kExitOk;
    };
}

}  // namespace sutra::app
