#include "sutra/pipeline/batch_manifest.hpp"

#include "sutra/io/strict_json.hpp"

namespace sutra::pipeline {
namespace {

Error line_error(const std::string& what, size_t line, const std::string& message) {
    return make_error(Errc::invalid_argument, what + " line " + std::to_string(line) + ": " +
                                                  message +
                                                  R"( (each line: {"model": "PATH", "output": )"
                                                  R"("PATH", "args": ["--flag", "value", ...]}))");
}

bool blank(std::string_view s) {
    for (char c : s)
        if (c != ' ' && c != '\t' && c != '\r') return false;
    return true;
}

Result<std::string> text_field(const nlohmann::json& j, const char* key, const std::string& what,
                               size_t line) {
    const auto it = j.find(key);
    if (it == j.end()) return line_error(what, line, std::string("no \"") + key + "\"");
    if (!it->is_string())
        return line_error(what, line, std::string("\"") + key + "\" is not a string");
    std::string s = it->get<std::string>();
    if (s.empty()) return line_error(what, line, std::string("\"") + key + "\" is empty");
    return s;
}

}  // namespace

Result<std::vector<BatchJob>> parse_batch_manifest(std::string_view text, const std::string& what,
                                                   BatchManifestLimits limits) {
    if (text.size() > limits.max_bytes)
        return make_error(Errc::invalid_argument,
                          what + " is " + std::to_string(text.size()) + " bytes, more than the " +
                              std::to_string(limits.max_bytes) + " a batch manifest may have");
    std::vector<BatchJob> jobs;
    size_t line = 0;
    for (size_t pos = 0; pos <= text.size();) {
        const size_t end = std::min(text.find('\n', pos), text.size());
        const std::string_view l = text.substr(pos, end - pos);
        ++line;
        pos = end + 1;
        if (blank(l)) {
            if (end == text.size()) break;
            continue;
        }
        auto parsed = io::parse_strict_json(l, what + " line " + std::to_string(line),
                                            io::StrictJsonLimits{8, limits.max_bytes});
        if (!parsed) return parsed.error();
        const nlohmann::json& j = *parsed;
        if (!j.is_object()) return line_error(what, line, "not a JSON object");
        for (const auto& [key, value] : j.items()) {
            (void)value;
            if (key != "model" && key != "output" && key != "args")
                return line_error(what, line, "unknown key \"" + key + "\"");
        }
        if (jobs.size() == limits.max_jobs)
            return line_error(what, line, "more than " + std::to_string(limits.max_jobs) + " jobs");
        BatchJob job;
        job.line = line;
        SUTRA_ASSIGN(job.model, text_field(j, "model", what, line));
        SUTRA_ASSIGN(job.output, text_field(j, "output", what, line));
        if (const auto a = j.find("args"); a != j.end()) {
            if (!a->is_array()) return line_error(what, line, "\"args\" is not an array");
            if (a->size() > limits.max_args)
                return line_error(
                    what, line,
                    "\"args\" has more than " + std::to_string(limits.max_args) + " entries");
            for (const auto& v : *a) {
                if (!v.is_string())
                    return line_error(what, line,
                                      "\"args\" holds " + std::string(v.type_name()) + " " +
                                          v.dump() + "; every entry is a string");
                job.args.push_back(v.get<std::string>());
            }
        }
        jobs.push_back(std::move(job));
        if (end == text.size()) break;
    }
    if (jobs.empty())
        return make_error(Errc::invalid_argument,
                          what +
                              " has no jobs (one JSON object per line: {\"model\": ..., "
                              "\"output\": ..., \"args\": [...]})");
    return jobs;
}

Result<std::vector<BatchJob>> read_batch_manifest(const std::string& path,
                                                  BatchManifestLimits limits) {
    SUTRA_ASSIGN(const std::string text,
                 io::read_small_file(path, io::StrictJsonLimits{8, limits.max_bytes}));
    return parse_batch_manifest(text, path, limits);
}

}  // namespace sutra::pipeline
