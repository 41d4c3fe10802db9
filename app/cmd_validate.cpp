// sutra validate MODEL.qbin [--against ORIGINAL] [--max-mse X] [--max-rel-error X]
// [--min-correlation X]
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "sutra/pipeline/validate.hpp"

namespace sutra::app {

Runner add_validate(CLI::App& app, const GlobalOptions& g) {
    struct Args {
        std::string qbin, against;
        double max_mse = -1, max_rel = -1, min_corr = -2;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    app.add_option("qbin", a->qbin, "The .qbin file")->required();
    app.add_option("--against", a->against,
                   "The original checkpoint, to measure the error per tensor");
    app.add_option("--max-mse", a->max_mse,
                   "Fail (exit 1) when a tensor's mean squared error exceeds this");
    app.add_option(
        "--max-rel-error", a->max_rel,
        "Fail when a tensor's relative error ||W - W'|| / ||W|| exceeds this (e.g. 0.1)");
    app.add_option("--min-correlation", a->min_corr,
                   "Fail when a tensor's correlation with the original is below this");
    app.add_flag("--json", a->json, "Print the result as JSON on stdout");
    return [a, &g]() -> int {
        pipeline::ValidateOptions opt;
        opt.qbin = a->qbin;
        if (!a->against.empty()) opt.against = a->against;
        const bool thresholds = a->max_mse >= 0 || a->max_rel >= 0 || a->min_corr > -2;
        if (thresholds && a->against.empty())
            return fail(
                make_error(Errc::invalid_argument, "error thresholds need --against ORIGINAL"));
        if (a->max_mse >= 0) opt.thresholds.max_mse = a->max_mse;
        if (a->max_rel >= 0) opt.thresholds.max_rel_error = a->max_rel;
        if (a->min_corr > -2) opt.thresholds.min_correlation = a->min_corr;
        auto progress = make_progress(g);
        auto r = pipeline::run_validate(opt, progress.get());
        if (!r) return fail(r.error());
        if (a->json) {
            nlohmann::ordered_json j;
            j["schema"] = "sutra.validate/1";
            j["file"] = r->file;
            j["passed"] = r->passed;
            j["structure_ok"] = r->structure_ok;
            if (!r->structure_ok) j["structure_error"] = r->structure_error;
            j["stored_tensors"] = r->stored_tensors;
            j["damaged"] = r->damaged;
            if (r->compared) {
                j["mismatches"] = r->mismatches;
                auto& ts = j["tensors"] = nlohmann::ordered_json::array();
                for (const auto& t : r->tensors) {
                    nlohmann::ordered_json o;
                    o["name"] = t.name;
                    o["encoding"] = t.encoding;
                    o["mse"] = t.stats.mse();
                    o["rel_error"] = t.stats.rel_error();
                    o["max_abs_error"] = t.stats.max_abs_err;
                    o["correlation"] = t.stats.correlation();
                    o["snr_db"] = t.stats.snr_db();
                    o["failures"] = t.failures;
                    ts.push_back(std::move(o));
                }
            }
            std::printf("%s\n", j.dump(2).c_str());
        } else {
            if (!r->structure_ok) {
                std::printf("FAIL %s: %s\n", r->file.c_str(), r->structure_error.c_str());
                return kExitCheckFailed;
            }
            std::printf("structure ok, header checksum ok, %llu stored tensors\n",
                        static_cast<unsigned long long>(r->stored_tensors));
            for (const auto& d : r->damaged)
                std::printf("DAMAGED %s\n", d.c_str());
            if (r->damaged.empty()) std::printf("all data checksums ok\n");
            if (r->compared) {
                std::printf("%-52s %-5s %11s %9s %9s %8s\n", "tensor", "enc", "mse", "rel_err",
                            "corr", "snr_db");
                for (const auto& t : r->tensors) {
                    std::printf("%-52s %-5s %11.4e %9.5f %9.6f %8.2f%s\n", t.name.c_str(),
                                t.encoding.c_str(), t.stats.mse(), t.stats.rel_error(),
                                t.stats.correlation(), t.stats.snr_db(),
                                t.failures.empty() ? "" : "  FAIL");
                    for (const auto& f : t.failures)
                        std::printf("    %s\n", f.c_str());
                }
                for (const auto& m : r->mismatches)
                    std::printf("MISMATCH %s\n", m.c_str());
            }
            std::printf("%s\n", r->passed ? "PASS" : "FAIL");
        }
        return r->passed ? kExitOk : kExitCheckFailed;
    };
}

}  // namespace sutra::app
