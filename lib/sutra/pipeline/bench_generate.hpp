#pragma once
// `sutra bench MODEL --generate [--against OUT.qbin]`: the original checkpoint and its .qbin
// compared on the speed a user of `sutra generate` gets, in one run.
//
// The workload, the same for both models: one pass over a prompt of prompt ids (embed, every
// block, the head of the last row: "prompt processing"), then gen_tokens greedy decode steps
// (temperature 0; an EOS does not stop them, so both models run the same count), each step
// the argmax of the last logits fed back through embed, every block and the head
// ("generation"). Rates: prompt ids / prompt seconds, and steps / generation seconds.
//
// Every run is a child process of its own (bench_child.hpp): it opens the model, loads every
// weight by running one token through it (load_seconds, not part of either rate), then runs
// the workload once; its peak RSS is that model's alone. The `warmup` runs of each model come
// first and are not measured; then the measured runs alternate original, quantized, original,
// quantized..., so noise on a shared machine hits both alike. Medians (and min, max) over the
// measured runs are reported; peak RSS is the largest of them.
//
// Without `against`, MODEL is quantized first (in a child, with `quantize`'s options and
// `method`) into `out_dir` (default: the system temp dir), and the file is removed at the end
// whatever happens. With `against`, the .qbin must have been made from MODEL: its recorded
// source (the input's file names and total size, QBIN.md section 2) and its tensor names and
// shapes must match the checkpoint's.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/format/qbin_reader.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/pipeline/bench.hpp"
#include "sutra/pipeline/progress.hpp"
#include "sutra/pipeline/quantize.hpp"

namespace sutra::pipeline {

inline constexpr int64_t kDefaultBenchPromptTokens = 128;
inline constexpr int64_t kDefaultBenchGenTokens = 64;

struct GenerateBenchOptions {
    // input = MODEL (a safetensors checkpoint: file, index or folder); the rest is how to
    // quantize it when `against` is not given, and `tokenizer` is the prompt's tokenizer.
    QuantizeOptions quantize;
    std::string method = "rtn";                    // without `against`: plan::parse_method name
    std::optional<std::filesystem::path> against;  // a .qbin made from MODEL
    std::filesystem::path out_dir;                 // where the temporary .qbin goes
    // The prompt: `prompt` text (encoded with the model's tokenizer, special tokens as its
    // encode adds them, then the text again without them until prompt_tokens ids), or the ids
    // of `tokens_file` exactly as given (prompt_tokens must then be unset), or else the built-in
    // English text (kBenchPromptText) the same way when the model folder has a tokenizer, or
    // fixed pseudo-random ids (SplitMix64, seed kBenchPromptSeed; BOS first where the model
    // has one, no BOS or EOS id after it).
    std::optional<std::string> prompt;
    std::optional<std::filesystem::path> tokens_file;
    std::optional<int64_t> prompt_tokens;  // unset: kDefaultBenchPromptTokens
    int64_t gen_tokens = kDefaultBenchGenTokens;
    int runs = 3;
    int warmup = 1;
};

// The built-in prompt text and the seed of the pseudo-random prompt.
extern const char* const kBenchPromptText;
inline constexpr uint64_t kBenchPromptSeed = 0x5eed'0001;

struct GenerateModelBench {
    std::string role;  // "original" or "quantized"
    std::string file;
    uint64_t file_bytes = 0;
    Spread load_seconds;    // open + one token through every block (weights loaded)
    Spread prompt_seconds;  // the prompt pass
    Spread prompt_tokens_per_s;
    Spread gen_seconds;  // every decode step (argmax included)
    Spread gen_tokens_per_s;
    Spread step_ms;                      // one decode step, over every step of every measured run
    uint64_t peak_rss_bytes = 0;         // the largest over the measured runs
    uint64_t start_rss_bytes = 0;        // resident when a run started (shared with the bench)
    std::vector<int32_t> prompt_ids;     // as the runs received them
    std::vector<int32_t> generated_ids;  // the gen_tokens greedy ids (first measured run)
    bool ids_stable = true;              // every measured run generated the same ids
};

struct GenerateBenchReport {
    std::string model;
    std::string family;     // "llama llama", "rwkv 5.2", "mamba 1"
    std::string tokenizer;  // "" without one
    unsigned threads = 0;
    std::string isa;
    std::string blas;  // OpenBLAS kernels in use
    int runs = 0, warmup = 0;
    // "text" (--prompt), "tokens-file", "builtin-text" or "random".
    std::string prompt_source;
    int64_t prompt_tokens = 0, gen_tokens = 0;
    std::vector<int32_t> prompt_ids;
    // How the quantized model came to be: "bench" (quantized in this run) or "against".
    std::string quantized_by;
    std::string method;           // the .qbin's recorded method ("rtn", "awq", ...)
    double quantize_seconds = 0;  // quantized_by "bench" only
    GenerateModelBench original, quantized;
    // quantized median rate / original median rate (> 1: the .qbin is faster).
    double prompt_speedup = 0, gen_speedup = 0;
    double memory_ratio = 0;  // quantized peak RSS / original peak RSS
    double size_ratio = 0;    // original file bytes / quantized file bytes
    // Generated ids equal at the start (up to the first difference), of gen_tokens.
    int64_t same_prefix_tokens = 0;
};

// Errors, before any model runs: runs < 1, warmup < 0, prompt_tokens < 1, gen_tokens < 1,
// both `prompt` and `tokens_file`, prompt_tokens with tokens_file, MODEL a .qbin, an unknown
// method or one that lacks calibration (check_bench_methods), `against` not a .qbin or made
// from another model (invalid_argument, naming both); the tokenizer's and the ids file's own.
// Then any error of quantizing or running a model, naming the run.
Result<GenerateBenchReport> run_generate_bench(const GenerateBenchOptions& opt,
                                               ProgressObserver* progress);

// invalid_argument unless `qbin` records `original` as its source (file base names, total
// bytes) and holds a record for exactly its tensors with their shapes; the message names what
// differs and both paths.
Status check_qbin_source(const format::QbinFile& qbin, const std::filesystem::path& qbin_path,
                         const io::Checkpoint& original, const std::filesystem::path& model_path);

}  // namespace sutra::pipeline
