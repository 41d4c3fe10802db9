#pragma once
// The job list of `sutra quantize --batch MANIFEST.jsonl`: JSON Lines, one job per line,
//   {"model": "PATH", "output": "PATH", "args": ["--bits", "4", ...]}
// "model" and "output" are what `sutra quantize MODEL -o OUTPUT` takes; "args" (optional) are
// that command's own flags, as they would be typed. Blank lines are skipped. The whole
// manifest is checked before any job runs: a line that is not such an object is an error
// naming the line.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"

namespace sutra::pipeline {

struct BatchJob {
    size_t line = 0;  // 1-based line of the manifest
    std::string model;
    std::string output;
    std::vector<std::string> args;
};

struct BatchManifestLimits {
    size_t max_bytes = 64u << 20;  // the whole manifest
    size_t max_jobs = 100000;
    size_t max_args = 1024;  // per job
};

// `what` names the manifest in messages.
Result<std::vector<BatchJob>> parse_batch_manifest(std::string_view text, const std::string& what,
                                                   BatchManifestLimits limits = {});
Result<std::vector<BatchJob>> read_batch_manifest(const std::string& path,
                                                  BatchManifestLimits limits = {});

}  // namespace sutra::pipeline
