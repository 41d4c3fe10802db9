// Replay driver for the libFuzzer targets in the normal build (any compiler, no libFuzzer):
// runs LLVMFuzzerTestOneInput once on every file named on the command line and on every
// regular file of every folder named there (not recursive, in name order). A crash, a hang or a
// sanitizer report fails the test as it would fail the fuzzer; finding no input at all is an
// error too, so that a misplaced corpus does not pass silently.
//
// Usage: fuzz_replay_<target> CORPUS_DIR_OR_FILE...
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// Reads the whole file into out, sized exactly, so that ASan sees any read past its end.
bool read_file(const fs::path& p, std::vector<uint8_t>& out) {
    std::error_code ec;
    const auto size = fs::file_size(p, ec);
    if (ec) return false;
    std::FILE* f = std::fopen(p.c_str(), "rb");
    if (!f) return false;
    out.assign(static_cast<size_t>(size), 0);
    const bool ok = std::fread(out.data(), 1, out.size(), f) == out.size();
    std::fclose(f);
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    std::vector<fs::path> inputs;
    for (int i = 1; i < argc; ++i) {
        const fs::path arg(argv[i]);
        std::error_code ec;
        if (fs::is_directory(arg, ec)) {
            std::vector<fs::path> files;
            for (const auto& e : fs::directory_iterator(arg, ec))
                if (e.is_regular_file(ec)) files.push_back(e.path());
            if (ec) {
                std::fprintf(stderr, "%s: cannot list: %s\n", argv[i], ec.message().c_str());
                return 2;
            }
            std::sort(files.begin(), files.end());
            inputs.insert(inputs.end(), files.begin(), files.end());
        } else if (fs::is_regular_file(arg, ec)) {
            inputs.push_back(arg);
        } else {
            std::fprintf(stderr, "%s: no such file or folder\n", argv[i]);
            return 2;
        }
    }
    if (inputs.empty()) {
        std::fprintf(stderr, "no inputs found in the given folders\n");
        return 2;
    }
    for (const auto& p : inputs) {
        std::vector<uint8_t> buf;
        if (!read_file(p, buf)) {
            std::fprintf(stderr, "%s: cannot read\n", p.string().c_str());
            return 2;
        }
        LLVMFuzzerTestOneInput(buf.empty() ? nullptr : buf.data(), buf.size());
    }
    std::printf("replayed %zu inputs\n", inputs.size());
    return 0;
}
