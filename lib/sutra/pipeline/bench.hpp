#pragma once
// `sutra bench MODEL`: times quantization end to end and per stage, for each method, against
// the copy limit measured in the same run (read the input and write an output of the same
// size with plain buffered I/O, fsync included, as quantize's own commit does). Runs of the
// copy and of each method are interleaved, so a noisy machine affects them alike.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/pipeline/progress.hpp"
#include "sutra/pipeline/quantize.hpp"
#include "sutra/pipeline/stage_times.hpp"

namespace sutra::pipeline {

struct BenchOptions {
    QuantizeOptions quantize;  // input, preset/config/overrides, threads, calibration
    std::vector<std::string> methods = {"rtn"};  // plan::parse_method names
    int runs = 3;
    int warmup = 1;
    std::filesystem::path out_dir;  // outputs are written here and removed; default: temp dir
};

struct Spread {
    double median = 0, min = 0, max = 0;
};
Spread spread_of(std::vector<double> v);

struct MethodBench {
    std::string method;
    Spread seconds;                          // end to end (wall clock)
    std::array<Spread, kStageCount> stages;  // per stage, thread-seconds
    double input_mb_per_s = 0;               // input file bytes / median seconds (1e6 B)
    double weights_per_s = 0;                // parameters / median seconds
    uint64_t peak_rss_bytes = 0;             // largest over the runs
    uint64_t output_bytes = 0;
    double ratio_to_copy = 0;  // median seconds / copy median seconds
};

struct BenchReport {
    std::string model;
    uint64_t input_bytes = 0;
    uint64_t weights = 0;  // parameters in the checkpoint
    unsigned threads = 0;
    std::string isa;
    int runs = 0, warmup = 0;
    Spread copy_seconds;  // the copy limit
    double copy_mb_per_s = 0;
    uint64_t copy_output_bytes = 0;
    std::vector<MethodBench> methods;
};

Result<BenchReport> run_bench(const BenchOptions& opt, ProgressObserver* progress);

// The --methods of a bench: at least one, each a name plan::parse_method accepts (its message,
// with "did you mean"), and calibration (`calib` or `calib_text` of `q`) for every method but
// "rtn" and "auto".
Status check_bench_methods(const std::vector<std::string>& methods, const QuantizeOptions& q);

}  // namespace sutra::pipeline
