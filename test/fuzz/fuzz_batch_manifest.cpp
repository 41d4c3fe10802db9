// libFuzzer target: the `sutra quantize --batch` manifest parser
// (pipeline::parse_batch_manifest) on a whole in-memory file. Every input must give jobs or
// an error value, never a crash, an exception or unbounded work. What is accepted is checked
// against what the batch runner relies on.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sutra/pipeline/batch_manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    sutra::pipeline::BatchManifestLimits limits;
    limits.max_jobs = 64;
    limits.max_args = 16;
    auto jobs = sutra::pipeline::parse_batch_manifest(text, "fuzz.jsonl", limits);
    if (!jobs.ok()) {
        if (jobs.error().message.empty()) std::abort();
        return 0;
    }
    // Accepted: 1..max_jobs jobs on increasing lines within the text, each with a model and an
    // output, at most max_args args.
    if (jobs->empty() || jobs->size() > limits.max_jobs) std::abort();
    size_t last = 0;
    for (const auto& j : *jobs) {
        if (j.line <= last || j.line > size + 1) std::abort();
        last = j.line;
        if (j.model.empty() || j.output.empty() || j.args.size() > limits.max_args) std::abort();
    }
    return 0;
}
