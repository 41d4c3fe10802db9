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

}  // namespace sutra::pipeline
