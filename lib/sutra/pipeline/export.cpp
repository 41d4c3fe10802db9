#include "sutra/pipeline/export.hpp"

#include <algorithm>
#include <cctype>

#include "sutra/base/suggest.hpp"
#include "sutra/pipeline/export_autoawq.hpp"
#include "sutra/pipeline/export_gguf.hpp"

namespace sutra::pipeline {

Result<ExportFormat> parse_export_format(const std::string& text) {
    std::string t = text;
    std::transform(t.begin(), t.end(), t.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (t == "autoawq") return ExportFormat::autoawq;
    if (t == "gguf") return ExportFormat::gguf;
    const std::vector<std::string> names = {"autoawq", "gguf"};
    std::string msg = "--format: unknown export format \"" + text + "\"";
    const std::string hint = did_you_mean(text, names);
    if (!hint.empty()) msg += "; " + hint;
    return make_error(Errc::invalid_argument, msg + " (choices: " + join_names(names) + ")");
}

Result<ExportReport> run_export(const ExportOptions& opt, ProgressObserver* progress) {
    if (opt.input.empty())
        return make_error(Errc::invalid_argument, "no input given; pass the .qbin to export");
    if (opt.output.empty())
        return make_error(Errc::invalid_argument, "no output path given; pass -o OUT");
    switch (opt.format) {
        case ExportFormat::autoawq:
            return export_autoawq(opt, progress);
        case ExportFormat::gguf:
            return export_gguf(opt, progress);
    }
    return make_error(Errc::internal, "unknown export format");
}

Result<std::filesystem::path> export_source_folder(const ExportOptions& opt) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (opt.model_dir) {
        if (!fs::is_directory(*opt.model_dir, ec))
            return make_error(Errc::not_found,
                              opt.model_dir->string() + ": --model-dir is not a folder");
        if (!fs::exists(*opt.model_dir / "config.json", ec))
            return make_error(Errc::not_found,
                              (*opt.model_dir / "config.json").string() +
                                  ": not found; --model-dir must be the folder the model was "
                                  "quantized from (with its config.json)");
        return *opt.model_dir;
    }
    const fs::path dir = opt.input.parent_path().empty() ? fs::path(".") : opt.input.parent_path();
    if (!fs::exists(dir / "config.json", ec))
        return make_error(Errc::not_found, opt.input.string() +
                                               ": no config.json beside it, and a .qbin does "
                                               "not record where its model came from; pass "
                                               "--model-dir DIR, the folder it was quantized "
                                               "from (exports need its config.json and tokenizer)");
    return dir;
}

}  // namespace sutra::pipeline
