// llama.cpp's own quantization of a GGUF, through the libllama of the npm prebuilt
// (@node-llama-cpp/linux-x64@3.22.1, llama.cpp v0.5.0): one call to llama_model_quantize with
// llama_model_quantize_default_params() and the chosen ftype, as llama-quantize does. With
// --imatrix, llama.cpp's importance matrix (GGUF or legacy .dat, read by llama.cpp's own
// common_imatrix_load) is passed the way llama-quantize passes it: per tensor, the summed x²
// divided by its token count.
//
// Built by test/interop/gguf_llamacpp_test.sh and scripts/gguf_table.sh (through
// scripts/llamacpp_env.sh) with the system compiler against the package's libllama,
// libllama-common and the headers of the llama.cpp source bundled in node-llama-cpp.
//
// Usage: llamacpp_quantize IN.gguf OUT.gguf TYPE [--imatrix FILE] [--threads N]
//   TYPE: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_M Q4_K_S Q4_K_M Q5_K_M Q6_K
// llama.cpp prints its per-tensor choices (types, fallbacks) on stderr.
// Exit status: 0 written, 1 llama_model_quantize failed, 2 usage error.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "imatrix-loader.h"
#include "llama.h"

namespace {

struct FtypeName {
    const char* name;
    llama_ftype ftype;
};

const FtypeName kFtypes[] = {
    {"F32", LLAMA_FTYPE_ALL_F32},          {"F16", LLAMA_FTYPE_MOSTLY_F16},
    {"BF16", LLAMA_FTYPE_MOSTLY_BF16},     {"Q8_0", LLAMA_FTYPE_MOSTLY_Q8_0},
    {"Q4_0", LLAMA_FTYPE_MOSTLY_Q4_0},     {"Q4_1", LLAMA_FTYPE_MOSTLY_Q4_1},
    {"Q5_0", LLAMA_FTYPE_MOSTLY_Q5_0},     {"Q5_1", LLAMA_FTYPE_MOSTLY_Q5_1},
    {"Q2_K", LLAMA_FTYPE_MOSTLY_Q2_K},     {"Q3_K_M", LLAMA_FTYPE_MOSTLY_Q3_K_M},
    {"Q4_K_S", LLAMA_FTYPE_MOSTLY_Q4_K_S}, {"Q4_K_M", LLAMA_FTYPE_MOSTLY_Q4_K_M},
    {"Q5_K_M", LLAMA_FTYPE_MOSTLY_Q5_K_M}, {"Q6_K", LLAMA_FTYPE_MOSTLY_Q6_K},
};

int usage(const char* message) {
    std::fprintf(stderr, "llamacpp_quantize: %s\n", message);
    std::fprintf(stderr,
                 "usage: llamacpp_quantize IN.gguf OUT.gguf TYPE [--imatrix FILE] "
                 "[--threads N]\n  TYPE:");
    for (const auto& f : kFtypes)
        std::fprintf(stderr, " %s", f.name);
    std::fprintf(stderr, "\n");
    return 2;
}

// Per-tensor mean x² from llama.cpp's imatrix file, normalised as llama-quantize does.
bool load_imatrix(const std::string& file,
                  std::unordered_map<std::string, std::vector<float>>& out) {
    common_imatrix loaded;
    if (!common_imatrix_load(file, loaded)) return false;
    for (const auto& [name, entry] : loaded.entries) {
        auto& e = out[name];
        e.resize(entry.sums.size());
        if (!loaded.is_legacy) {
            const auto ncounts = static_cast<int64_t>(entry.counts.size());
            if (ncounts == 0) return false;
            const int64_t ne0 = static_cast<int64_t>(entry.sums.size()) / ncounts;
            for (int64_t j = 0; j < ncounts; ++j) {
                const auto count = static_cast<float>(entry.counts[j]);
                for (int64_t i = 0; i < ne0; ++i)
                    e[j * ne0 + i] = count > 0.0f ? entry.sums[j * ne0 + i] / count : 1.0f;
            }
        } else {
            const int64_t ncall = entry.counts.empty() ? 0 : entry.counts[0];
            for (size_t i = 0; i < entry.sums.size(); ++i)
                e[i] = ncall > 0 ? entry.sums[i] / static_cast<float>(ncall) : entry.sums[i];
        }
    }
    std::fprintf(stderr, "llamacpp_quantize: %zu importance matrix entries from %s (%s format)\n",
                 out.size(), file.c_str(), loaded.is_legacy ? "legacy" : "GGUF");
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) return usage("IN.gguf, OUT.gguf and TYPE are required");
    const char* in = argv[1];
    const char* out = argv[2];
    const char* type = argv[3];
    std::string imatrix_file;
    int threads = 1;
    for (int i = 4; i < argc; ++i) {
        if (std::strcmp(argv[i], "--imatrix") == 0 && i + 1 < argc) {
            imatrix_file = argv[++i];
        } else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = std::atoi(argv[++i]);
            if (threads < 1) return usage("--threads needs a positive integer");
        } else {
            return usage((std::string("unknown argument ") + argv[i]).c_str());
        }
    }
    const FtypeName* chosen = nullptr;
    for (const auto& f : kFtypes)
        if (std::strcmp(f.name, type) == 0) chosen = &f;
    if (chosen == nullptr) return usage((std::string("unknown TYPE ") + type).c_str());

    llama_backend_init();
    llama_model_quantize_params params = llama_model_quantize_default_params();
    params.ftype = chosen->ftype;
    params.nthread = threads;

    std::unordered_map<std::string, std::vector<float>> imatrix;
    std::vector<llama_model_imatrix_data> entries;
    if (!imatrix_file.empty()) {
        if (!load_imatrix(imatrix_file, imatrix)) {
            std::fprintf(stderr, "llamacpp_quantize: cannot read the importance matrix %s\n",
                         imatrix_file.c_str());
            llama_backend_free();
            return 2;
        }
        for (const auto& [name, values] : imatrix)
            entries.push_back({name.c_str(), values.data(), values.size()});
        entries.push_back({nullptr, nullptr, 0});
        params.imatrix = entries.data();
    }

    const uint32_t rc = llama_model_quantize(in, out, &params);
    llama_backend_free();
    if (rc != 0) {
        std::fprintf(stderr, "llamacpp_quantize: llama_model_quantize(%s -> %s, %s) failed\n", in,
                     out, chosen->name);
        return 1;
    }
    std::fprintf(stderr, "llamacpp_quantize: wrote %s (%s)\n", out, chosen->name);
    return 0;
}
