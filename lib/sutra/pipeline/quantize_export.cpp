#include "sutra/pipeline/quantize_export.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "sutra/io/model_path.hpp"
#include "sutra/pipeline/quantize_gguf.hpp"

namespace sutra::pipeline {
namespace {

namespace fs = std::filesystem;

// Removes the temporary .qbin however the export ends.
struct RemoveOnExit {
    fs::path path;
    ~RemoveOnExit() {
        std::error_code ec;
        if (!path.empty()) fs::remove(path, ec);
    }
};

}  // namespace

Result<QuantizeExportReport> run_quantize_export(QuantizeOptions quant, ExportOptions exp,
                                                 ProgressObserver* progress) {
    if (quant.dry_run)
        return make_error(Errc::invalid_argument,
                          "--dry-run works with --format qbin only (it prints the quantization "
                          "plan); drop --format to see it");
    if (exp.output.empty())
        return make_error(Errc::invalid_argument, "no output path given; pass -o OUT");
    // GGUF is written straight from the checkpoint (rounded once, with AWQ inside).
    if (exp.format == ExportFormat::gguf) return run_quantize_gguf(quant, exp, progress);
    std::error_code ec;
    if (fs::exists(fs::symlink_status(exp.output, ec)) && !exp.force)
        return make_error(Errc::exists,
                          exp.output.string() + ": already exists; use --force to replace it");
    if (!exp.model_dir) {
        SUTRA_ASSIGN(fs::path p, io::resolve_model_path(quant.input));
        exp.model_dir = fs::is_directory(p, ec)   ? p
                        : p.parent_path().empty() ? fs::path(".")
                                                  : p.parent_path();
    }
    if (!exp.tokenizer && quant.tokenizer) exp.tokenizer = quant.tokenizer;
    const fs::path dir =
        exp.output.parent_path().empty() ? fs::path(".") : exp.output.parent_path();
    char salt[32];
    std::snprintf(salt, sizeof salt, "%d-%llx", static_cast<int>(::getpid()),
                  static_cast<unsigned long long>(
                      std::chrono::steady_clock::now().time_since_epoch().count()));
    RemoveOnExit tmp{dir /
                     ("." + exp.output.filename().string() + ".sutra-quantize-" + salt + ".qbin")};
    quant.output = tmp.path;
    quant.force = false;
    QuantizeExportReport rep;
    SUTRA_ASSIGN(rep.quantize, run_quantize(quant, progress));
    exp.input = tmp.path;
    SUTRA_ASSIGN(rep.exported, run_export(exp, progress));
    return rep;
}

}  // namespace sutra::pipeline
