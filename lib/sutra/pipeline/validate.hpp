#pragma once
// `sutra validate`: a .qbin's structure and every checksum; with the original checkpoint,
// per-tensor error metrics against thresholds.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/pipeline/progress.hpp"
#include "sutra/quant/metrics.hpp"

namespace sutra::pipeline {

struct Thresholds {
    std::optional<double> max_mse;
    std::optional<double> max_rel_error;
    std::optional<double> min_correlation;
};

struct ValidateOptions {
    std::filesystem::path qbin;
    std::optional<std::filesystem::path> against;
    Thresholds thresholds;
};

struct TensorCheck {
    std::string name;
    std::string encoding;
    quant::ErrorStats stats;
    std::vector<std::string> failures;  // thresholds it fails, e.g. "rel_error 0.12 > 0.05"
};

struct ValidateReport {
    std::string file;
    bool structure_ok = false;  // header, checksum of the header, profile
    std::string structure_error;
    uint64_t stored_tensors = 0;
    std::vector<std::string> damaged;  // "record (stored): expected X, found Y"
    bool compared = false;
    std::vector<TensorCheck> tensors;     // with --against
    std::vector<std::string> mismatches;  // original and .qbin disagree on names/shapes
    bool passed = false;
};

// Errors (exit 2) are for files that cannot be opened or read at all; everything the check
// finds wrong in the .qbin is reported in the result with passed = false (exit 1).
Result<ValidateReport> run_validate(const ValidateOptions& opt, ProgressObserver* progress);

}  // namespace sutra::pipeline
