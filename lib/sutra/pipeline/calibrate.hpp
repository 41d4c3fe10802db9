#pragma once
// `sutra calibrate`: activation statistics of a model on a calibration text, saved as a
// calibration file (calib/STATS.md) for `sutra quantize --calib`.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "sutra/base/error.hpp"
#include "sutra/pipeline/progress.hpp"

namespace sutra::pipeline {

struct CalibrateOptions {
    std::filesystem::path model;                     // safetensors file, index or folder
    std::optional<std::filesystem::path> model_dir;  // config.json + tokenizer
    std::optional<std::filesystem::path> text;       // encoded with the model's tokenizer
    std::optional<std::filesystem::path> tokens;     // or: whitespace-separated token ids
    std::filesystem::path output;
    int64_t seq_len = 256;       // window length, BOS included
    int64_t max_tokens = 16384;  // text tokens used at most; 0 = all
    bool force = false;
};

struct CalibrateReport {
    std::string model;
    std::string output;
    int64_t text_tokens = 0;  // tokens in the text (or ids file)
    int64_t used_tokens = 0;  // text tokens in the windows (windows * (seq_len - 1))
    int64_t positions = 0;    // rows per linear: windows * seq_len (BOS included)
    int64_t windows = 0;
    int64_t seq_len = 0;
    int64_t linears = 0;
    uint64_t bytes = 0;  // size of the written file
    double seconds = 0;
};

// Errors: the output is checked first (exists without force, is an input); then the model,
// config.json, tokenizer and text are opened; then the statistics are collected and saved.
Result<CalibrateReport> run_calibrate(const CalibrateOptions& opt, ProgressObserver* progress);

}  // namespace sutra::pipeline
