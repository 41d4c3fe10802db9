#pragma once
// `sutra calibrate`: activation statistics of a model of any family (Llama, RWKV, Mamba) on a
// calibration text, saved as a calibration file (calib/STATS.md) for `sutra quantize --calib`.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/pipeline/progress.hpp"

namespace sutra::pipeline {

struct CalibrateOptions {
    std::filesystem::path model;                     // safetensors file, index or folder
    std::optional<std::filesystem::path> model_dir;  // config.json + tokenizer
    // Calibration text files (plain text or JSON Lines; calib/corpus.hpp), encoded with the
    // model's tokenizer, or `tokens`: whitespace-separated token ids. Exactly one of the two.
    std::vector<std::filesystem::path> texts;
    std::optional<std::filesystem::path> tokens;
    std::optional<std::filesystem::path> tokenizer;  // instead of the model folder's
    uint64_t seed = 42;                              // document order of a large corpus
    std::filesystem::path output;
    int64_t seq_len = 256;       // window length, BOS included (when the model has one)
    int64_t max_tokens = 16384;  // text tokens used at most; 0 = all
    bool force = false;
};

struct CalibrateReport {
    std::string model;
    std::string output;
    int64_t text_tokens = 0;  // tokens of the text documents read (or of the ids file)
    std::string tokenizer;    // description of the tokenizer used; "" with token ids
    int64_t documents = 0;    // documents in the calibration files, and those tokenized
    int64_t documents_used = 0;
    int64_t used_tokens = 0;  // text tokens in the windows (windows * (seq_len - 1); without
                              // a BOS, RWKV: windows * seq_len)
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
