#pragma once
// `sutra quantize`: checkpoint in, .qbin out (or, with dry_run, only the plan and its sizes).
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/calib/imatrix_file.hpp"
#include "sutra/parts/part_plan.hpp"
#include "sutra/pipeline/progress.hpp"
#include "sutra/pipeline/quantize_awq.hpp"
#include "sutra/pipeline/quantize_data_free.hpp"
#include "sutra/pipeline/quantize_gptq.hpp"
#include "sutra/pipeline/stage_times.hpp"
#include "sutra/plan/plan.hpp"

namespace sutra::pipeline {

struct QuantizeOptions {
    std::filesystem::path input;
    std::filesystem::path output;
    std::string preset = "balanced";
    std::optional<std::filesystem::path> config_file;
    plan::Overrides overrides;
    bool force = false;
    bool dry_run = false;
    uint64_t chunk_bytes = 256u << 10;  // f32 bytes of one row block
    unsigned threads = 0;               // worker threads; 0 = every core this process may use
    uint64_t max_memory = 0;            // cap on resident memory in bytes; 0 = none

    // Method: "auto" (AWQ with calibration; else data-free salience when the config has a
    // salience_threshold; else round-to-nearest), "rtn" (plain round-to-nearest), "awq",
    // "gptq" or "awq+gptq" (AWQ's scales, then GPTQ's rounding); the last three need
    // calibration with activations (text or `sutra calibrate` statistics).
    std::string method = "auto";
    // Statistics from `sutra calibrate`, or a llama.cpp imatrix (legacy or GGUF layout; told
    // apart by content, calib/IMATRIX.md).
    std::optional<std::filesystem::path> calib;
    // Or: calibrate now on these text files (plain text or JSON Lines; calib/corpus.hpp).
    std::vector<std::filesystem::path> calib_text;
    // Or: on these token ids (a file of whitespace-separated ids; no tokenizer involved).
    std::optional<std::filesystem::path> calib_ids;
    std::optional<std::filesystem::path> tokenizer;  // instead of the model folder's
    uint64_t calib_seed = 42;                        // document order of a large corpus
    int64_t calib_seq_len = 256;
    int64_t calib_tokens = 16384;  // text tokens used for calibration on the fly; 0 = all
    AwqOptions awq;
    // GPTQ (and AWQ + GPTQ): dampening, lazy-batch width, activation order; and where its
    // calibration inputs come from (false: the quantized-so-far model, the default).
    quant::GptqOptions gptq;
    bool gptq_fp_inputs = false;
    bool gptq_report_error = false;  // per linear, output error against RTN's
    // AWQ + GPTQ: AWQ's scale search rounds its trials with GPTQ (true) or RTN (false); unset:
    // GPTQ for Llama's own block search, RTN for the generic one (RWKV, Mamba), which has only
    // RTN trials (true is refused there).
    std::optional<bool> awq_trials_gptq;
    // AWQ + GPTQ runs AWQ's clipping only when asked (--clip); awq.clip = false (--no-clip)
    // turns it off for AWQ.
    bool clip_forced = false;
    // AWQ and GPTQ through the generic block code (pipeline/awq_family_block,
    // gptq_family_block) also for a family that has its own (Llama's awq_block, gptq_block).
    bool awq_generic = false;
    // Quantize only part k of n (parts/part_plan.hpp) into output.part-k-of-n, for
    // `sutra merge` to put together with the others.
    std::optional<parts::PartIndex> part;
};

struct TensorSummary {
    std::string name;
    std::string role;
    std::string dtype;
    std::vector<uint64_t> shape;
    bool quantized = false;
    std::string encoding;  // "q4" or "raw"
    int bits = 0;
    std::string group_size;  // "128", "row"
    uint64_t group_width = 0;
    std::string keep_reason;
    uint64_t input_bytes = 0;
    uint64_t stored_bytes = 0;
};

struct QuantizeReport {
    bool dry_run = false;
    std::string output;
    nlohmann::ordered_json config;  // resolved config, as recorded in the .qbin
    std::vector<TensorSummary> tensors;
    size_t quantized = 0, kept = 0;
    uint64_t input_file_bytes = 0;
    uint64_t output_file_bytes = 0;
    double ratio = 0;
    double seconds = 0;
    uint64_t peak_rss_bytes = 0;
    unsigned threads = 0;                       // worker threads used
    std::string isa;                            // kernel instruction set used
    uint64_t block_bytes = 0;                   // f32 bytes per row block (after --max-memory)
    StageTimes stages;                          // per stage, summed over threads
    std::vector<std::string> warnings;          // things the user should know; nothing failed
    std::string method;                         // "rtn", "awq", "gptq", "awq+gptq" or "data-free"
    std::vector<SalienceGroupReport> salience;  // data-free: per norm group
    std::vector<AwqLayerReport> awq;    // per layer: the alpha chosen for each scaling group
    std::optional<GptqRunReport> gptq;  // GPTQ, AWQ + GPTQ: per layer and linear, and times
    // AWQ calibration: windows and their length; with calibration text, the tokenizer used
    // and the tokens of the documents read.
    int64_t calib_windows = 0, calib_seq_len = 0, calib_text_tokens = 0;
    std::string calib_tokenizer;
    // With AWQ: "module_output" or "per_linear"; and what a llama.cpp imatrix given as --calib
    // says of its making.
    std::string awq_loss;
    std::optional<calib::ImatrixInfo> calib_imatrix;
};

// The config a set of options resolves to: preset, then config file, then overrides.
Result<plan::QuantConfig> resolve_config(const QuantizeOptions& opt);

Result<QuantizeReport> run_quantize(const QuantizeOptions& opt, ProgressObserver* progress);

}  // namespace sutra::pipeline
