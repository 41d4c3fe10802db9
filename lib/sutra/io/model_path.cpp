#include "sutra/io/model_path.hpp"

#include <algorithm>
#include <string>
#include <system_error>
#include <vector>

#include "sutra/io/strict_json.hpp"

namespace sutra::io {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxRefBytes = 4096;

bool is_dir(const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}

// Whether `dir` holds a checkpoint of its own (then it is opened as it is).
bool holds_checkpoint(const fs::path& dir) {
    std::error_code ec;
    if (fs::exists(dir / "model.safetensors.index.json", ec)) return true;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string n = it->path().filename().string();
        if (n.size() > 12 && n.compare(n.size() - 12, 12, ".safetensors") == 0) return true;
    }
    return false;
}

std::string snapshots_present(const fs::path& snapshots) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(snapshots, ec), end; !ec && it != end; it.increment(ec))
        if (is_dir(it->path())) names.push_back(it->path().filename().string());
    std::sort(names.begin(), names.end());
    if (names.empty()) return "no snapshot is present: the download did not finish";
    std::string out = "snapshots present: ";
    const size_t shown = std::min<size_t>(names.size(), 8);
    for (size_t i = 0; i < shown; ++i)
        out += (i ? ", " : "") + names[i];
    if (names.size() > shown) out += ", ... (" + std::to_string(names.size()) + " in all)";
    return out;
}

std::string trim(std::string s) {
    const char* ws = " \t\r\n";
    const size_t b = s.find_first_not_of(ws);
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

Result<fs::path> resolve_model_path(const fs::path& path) {
    if (!is_dir(path)) return path;
    fs::path repo = path;
    // .../models--ORG--NAME/snapshots given: the repository is its parent.
    if (path.filename() == "snapshots" && is_dir(path.parent_path() / "refs"))
        repo = path.parent_path();
    else if (path.filename().empty() && path.parent_path().filename() == "snapshots" &&
             is_dir(path.parent_path().parent_path() / "refs"))
        repo = path.parent_path().parent_path();  // ".../snapshots/" with a trailing slash
    const fs::path snapshots = repo / "snapshots";
    if (!is_dir(snapshots) || !(is_dir(repo / "refs") || is_dir(repo / "blobs")) ||
        (repo == path && holds_checkpoint(path)))
        return path;

    const std::string where = repo.string();
    const fs::path ref = repo / "refs" / "main";
    std::error_code ec;
    if (!fs::exists(ref, ec))
        return make_error(Errc::not_found,
                          where +
                              ": a Hugging Face hub cache folder without refs/main, so the "
                              "snapshot to use is unknown; pass one snapshot folder, " +
                              (snapshots / "<rev>").string() + " (" + snapshots_present(snapshots) +
                              ")");
    auto text = read_small_file(ref.string(), StrictJsonLimits{1, kMaxRefBytes});
    if (!text.ok())
        return make_error(text.error().code,
                          where + ": cannot read refs/main: " + text.error().message);
    const std::string rev = trim(*text);
    const bool plain = !rev.empty() && rev != "." && rev != ".." &&
                       rev.find_first_of("/\\\n\r\t ") == std::string::npos &&
                       rev.find('\0') == std::string::npos;
    if (!plain)
        return make_error(Errc::bad_format,
                          ref.string() +
                              ": does not hold a snapshot name (a commit hash on one line); " +
                              snapshots_present(snapshots));
    const fs::path snap = snapshots / rev;
    if (!is_dir(snap))
        return make_error(Errc::not_found,
                          where + ": refs/main names snapshot " + rev +
                              ", which is not in snapshots/ (" + snapshots_present(snapshots) +
                              "); download the model again, or pass a snapshot folder");
    return snap;
}

}  // namespace sutra::io
