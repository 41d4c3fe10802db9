#pragma once
// `sutra export --format gguf`: a .qbin written as one GGUF version 3 file that llama.cpp loads
// (layout: format/GGUF.md). Called by run_export (pipeline/export.hpp), which documents the
// options and the output rules. Declared here by the AutoAWQ export so that run_export can
// dispatch to it; the GGUF writer owns this file and its implementation.
#include <filesystem>
#include <vector>
#include "sutra/base/error.hpp"

#include "sutra/pipeline/export.hpp"
#include "sutra/pipeline/gguf_source.hpp"
#include "sutra/pipeline/progress.hpp"

namespace sutra::pipeline {

Result<ExportReport> export_gguf(const ExportOptions& opt, ProgressObserver* progress);

// The GGUF writer behind export_gguf and `quantize --format gguf`: the tensors of `source`
// (Hugging Face names) written to opt.output with the config and tokenizer of `model_dir`,
// each 2-D weight rounded to its type with the source's importance where it has one. `inputs`
// are the files the output must not replace.
Result<ExportReport> write_gguf(GgufSource& source, const std::filesystem::path& model_dir,
                                const ExportOptions& opt,
                                const std::vector<std::filesystem::path>& inputs,
                                ProgressObserver* progress);

}  // namespace sutra::pipeline
