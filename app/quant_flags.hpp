#pragma once
// The flags that describe how to quantize, shared by `quantize` and `bench`.
#include <CLI/CLI.hpp>
#include <string>

#include "cli_common.hpp"
#include "sutra/pipeline/quantize.hpp"

namespace sutra::app {

struct QuantFlags {
    std::string preset = "balanced", config, group, calib, calib_ids, tokenizer, max_memory,
                awq_loss;
    std::vector<std::string> calib_text;
    uint64_t calib_seed = 42;
    int bits = 0;
    int64_t calib_tokens = 16384, seq_len = 256;
    int grid = 20;
    std::string awq_search = "fast";
    uint64_t awq_loss_tokens = 4096;
    bool duo = false, no_clip = false, clip = false;
    double gptq_damp = 0.01;
    uint64_t gptq_block = 128;
    bool act_order = false, gptq_report_error = false;
    std::string gptq_inputs = "sequential", awq_trials;  // "": by family
    std::string awq_block = "family";
};

void add_quant_flags(CLI::App& app, QuantFlags& f);
// Fills the options from the flags (and the global --threads); an error value for bad flags.
Status apply_quant_flags(const QuantFlags& f, const GlobalOptions& g,
                         pipeline::QuantizeOptions& opt);

}  // namespace sutra::app
