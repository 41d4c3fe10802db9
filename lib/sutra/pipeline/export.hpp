#pragma once
// `sutra export MODEL.qbin --format autoawq|gguf -o OUT`: a .qbin turned into a checkpoint that
// other runtimes load. AutoAWQ "GEMM" (a folder that vLLM, transformers, TGI and SGLang load;
// format/AUTOAWQ.md) or GGUF version 3 (a file that llama.cpp, Ollama and LM Studio load;
// format/GGUF.md). Same output rules as `quantize`: the output appears whole or not at all
// (temporary + rename), an existing output needs `force`, the input is never touched, and bad
// input is an error naming the tensor and the fix, found before any output is written.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/pipeline/progress.hpp"

namespace sutra::pipeline {

enum class ExportFormat { autoawq, gguf };

// "autoawq" | "gguf" (case-insensitive; did-you-mean otherwise).
Result<ExportFormat> parse_export_format(const std::string& text);

struct ExportOptions {
    std::filesystem::path input;   // the .qbin
    std::filesystem::path output;  // AutoAWQ: a folder; GGUF: a file
    ExportFormat format = ExportFormat::autoawq;
    // The source model folder (config.json, tokenizer and generation files). Default: the
    // .qbin's folder (a .qbin records only the base names of its input files, no path).
    std::optional<std::filesystem::path> model_dir;
    std::optional<std::filesystem::path> tokenizer;  // instead of the model folder's
    bool force = false;
    // AutoAWQ: tensors the layout cannot hold are written in F16 and listed in
    // modules_to_not_convert instead of refused.
    bool keep_unsupported = false;
    // GGUF: a type name (F32, F16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K) or a mix (Q4_K_M, ...);
    // empty = the type that holds the .qbin's weights best.
    std::string gguf_type;
    unsigned threads = 0;  // 0 = every core
    // AutoAWQ: the largest model-NNNNN-of-NNNNN.safetensors shard in bytes of tensor data
    // (Hugging Face's 5 GB); above it the weights are sharded with model.safetensors.index.json.
    // Not a flag: tests set it small to exercise sharding.
    uint64_t max_shard_bytes = 5'000'000'000;
};

struct ExportTensor {
    std::string name;  // name in the output
    std::string type;  // "int32 qweight", "Q4_K", "F16", ...
    std::vector<uint64_t> shape;
    std::string note;  // e.g. "fallback Q4_K -> Q5_0: 172 columns" or "kept F16"
};

struct ExportReport {
    std::string output;
    std::string format;  // "autoawq" | "gguf"
    std::vector<ExportTensor> tensors;
    std::vector<std::string> warnings;  // fallbacks, kept modules, files not found to copy
    std::vector<std::string> copied_files;
    // AutoAWQ: the quantization_config written, and the weight files.
    size_t quantized_linears = 0;
    uint32_t group_size = 0;
    std::vector<std::string> modules_to_not_convert;
    std::vector<std::string> weight_files;
    uint64_t output_bytes = 0;
    double seconds = 0;
    uint64_t peak_rss_bytes = 0;
};

Result<ExportReport> run_export(const ExportOptions& opt, ProgressObserver* progress);

// The source model folder of an export: opt.model_dir (which must hold config.json), else the
// .qbin's own folder when config.json is there; not_found naming --model-dir otherwise.
Result<std::filesystem::path> export_source_folder(const ExportOptions& opt);

}  // namespace sutra::pipeline
