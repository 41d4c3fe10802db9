#pragma once
// `sutra bench MODEL --methods ... --eval-text FILE`: quantization methods compared on accuracy
// and cost in one run. For every method and bit width (a "point"): quantize once into the out
// dir, then run the full-precision model and the .qbin (dequantized on the fly) on the same
// evaluation windows (model::compare_models, as `sutra validate --text` does): perplexity,
// mean KL(full precision || quantized), top-1 agreement; plus output size, quantize time and
// the quantization's own peak RSS. The .qbin is removed after its evaluation.
//
// Shared work is done once: the evaluation text is tokenized once; calibration text is
// tokenized and its statistics collected once (a `sutra calibrate` file in the out dir, given
// to every method as --calib; the bytes of the .qbin are the same as with --calib-text).
// compare_models runs the full-precision forward pass again for every point (it has no way
// to take stored logits), so an evaluation costs two forward passes.
//
// Every quantization, evaluation and the calibration runs in a child process of its own
// (bench_child.hpp): each peak RSS is that step's alone, and the parent stays small.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/pipeline/progress.hpp"
#include "sutra/pipeline/quantize.hpp"

namespace sutra::pipeline {

struct AccuracyBenchOptions {
    // Input, preset/config, group size, threads, AWQ options, and calibration (a statistics
    // file as `calib`, or text files as `calib_text`). overrides.bits is the bit width when
    // `bits` is empty.
    QuantizeOptions quantize;
    std::vector<std::string> methods = {"rtn"};  // plan::parse_method names
    std::vector<int> bits;            // one point per method and entry; empty: one per method
    std::filesystem::path eval_text;  // encoded with the model's tokenizer (or quantize.tokenizer)
    int64_t eval_seq_len = 256;       // window length, BOS included
    int64_t eval_tokens = 0;          // text tokens scored at most; 0 = all
    std::filesystem::path out_dir;    // outputs are written here and removed; default: temp dir
};

struct AccuracyPoint {
    std::string method;       // as asked ("auto", "rtn", "awq", ...)
    std::string method_used;  // what quantize ran (QuantizeReport::method)
    int bits = 0;             // the --bits given for this point; 0: the preset/config's
    uint64_t output_bytes = 0;
    double compression_ratio = 0;  // input bytes / output bytes
    double bits_per_weight = 0;    // 8 * output bytes / parameters (header included)
    double quantize_seconds = 0;   // run_quantize wall clock (opening the input included)
    uint64_t peak_rss_bytes = 0;   // the quantizing process's peak
    double perplexity = 0;
    double perplexity_increase = 0;  // quantized - full precision
    double perplexity_increase_relative = 0;
    double mean_kl = 0;         // nats per token, KL(full precision || quantized)
    double top1_agreement = 0;  // fraction of tokens with the same argmax
    double eval_seconds = 0;    // both forward passes and the comparison
    uint64_t eval_peak_rss_bytes = 0;
    std::vector<std::string> warnings;  // from quantize
};

struct AccuracyBenchReport {
    std::string model;
    uint64_t input_bytes = 0;
    uint64_t weights = 0;  // parameters in the checkpoint
    unsigned threads = 0;
    std::string isa;
    std::string preset;
    std::string config_file;  // "" without --config
    std::string group_size;   // the --group-size given; "" = the preset/config's
    // Evaluation.
    std::string eval_text;
    std::string tokenizer;
    int64_t eval_seq_len = 0, eval_tokens = 0, eval_windows = 0;
    double reference_perplexity = 0;
    // Calibration: "" when no method used any; "text" (collected here once) or "file".
    std::string calib_kind;
    std::vector<std::string> calib_sources;
    int64_t calib_windows = 0, calib_seq_len = 0;
    double calib_seconds = 0;  // collecting the statistics once (0 for a file)
    uint64_t calib_peak_rss_bytes = 0;
    std::vector<AccuracyPoint> points;  // methods in the order given, bits within each
};

// Errors (all before any work): an unknown method (plan::parse_method's message), a method
// other than rtn without calibration, a bit width quant_type_for_bits refuses, eval_seq_len
// < 2, eval_tokens < 0, and an evaluation text that is one of the calibration texts
// (check_eval_text_differs). Then any error of tokenizing, calibrating, quantizing or
// evaluating, with the point it happened at.
Result<AccuracyBenchReport> run_accuracy_bench(const AccuracyBenchOptions& opt,
                                               ProgressObserver* progress);

// invalid_argument when `eval` is the same file as one of `calib` (same device and inode:
// a hard or symbolic link counts) or has the same contents (same size and XXH3-64); the
// message names both and the fix. not_found / io when a file cannot be read.
Status check_eval_text_differs(const std::filesystem::path& eval,
                               const std::vector<std::filesystem::path>& calib);

}  // namespace sutra::pipeline
