#pragma once
// `sutra validate`: a .qbin's structure and every checksum; with the original checkpoint,
// per-tensor error metrics against thresholds; with a text too, the quality of the packed
// model end to end: the forward pass of the original and of the .qbin (its weights
// dequantized on the fly, never written out) on the same windows, compared by perplexity,
// KL divergence and top-1 agreement (model::compare_models).
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
    // Quality (need a text): relative perplexity increase (ppl_q - ppl_o) / ppl_o, e.g. 0.05
    // for 5%, and mean KL(P_original || P_quantized) in nats per token.
    std::optional<double> max_ppl_increase;
    std::optional<double> max_kl;
};

struct ValidateOptions {
    std::filesystem::path qbin;
    std::optional<std::filesystem::path> against;
    Thresholds thresholds;
    // Quality on a text (needs `against`, whose folder supplies config.json and the
    // tokenizer): at most one of the two.
    std::optional<std::filesystem::path> text;       // encoded with the original's tokenizer
    std::optional<std::filesystem::path> tokens;     // or: whitespace-separated token ids
    std::optional<std::filesystem::path> tokenizer;  // instead of the original folder's
    int64_t seq_len = 256;                           // window length, BOS included
    int64_t max_tokens = 0;                          // text tokens scored at most; 0 = all
};

// End-to-end quality of the .qbin against the original on a text.
struct QualityCheck {
    std::string source;  // the text or token-id file
    int64_t seq_len = 0;
    int64_t tokens = 0;  // scored text tokens
    int64_t windows = 0;
    double original_perplexity = 0;
    double quantized_perplexity = 0;
    double perplexity_increase = 0;           // quantized - original
    double perplexity_increase_relative = 0;  // (quantized - original) / original
    double mean_kl = 0;                       // nats per token, KL(original || quantized)
    double top1_agreement = 0;                // fraction of tokens with the same argmax
    std::vector<std::string> failures;        // e.g. "mean_kl 0.092 > 0.05"
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
    // Records whose stored values carry folded AWQ / data-free scales: not compared weight by
    // weight (their per-tensor error would be meaningless); `--text` measures them as a model.
    std::vector<std::string> transformed;
    std::optional<QualityCheck> quality;  // with a text; not run on a damaged file
    bool passed = false;
};

// Errors (exit 2) are for files that cannot be opened or read at all, and for options that do
// not go together (a text or quality threshold without `against`, quality thresholds without a
// text, both text and tokens); everything the check finds wrong in the .qbin, including a
// quality threshold it exceeds, is reported in the result with passed = false (exit 1). The
// quality check is skipped (quality stays empty) when the file is damaged.
Result<ValidateReport> run_validate(const ValidateOptions& opt, ProgressObserver* progress);

}  // namespace sutra::pipeline
