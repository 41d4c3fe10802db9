#pragma once
// `sutra quantize MODEL ... --format autoawq|gguf -o OUT`: quantize and export in one step.
// GGUF goes straight from the checkpoint (pipeline/quantize_gguf.hpp). For AutoAWQ, the checkpoint
// is quantized into a temporary .qbin beside OUT (a hidden name), which is exported with `exp` and
// removed afterwards, whether the export succeeded or not. The source folder for config.json and
// the tokenizer defaults to the model's own folder. An existing OUT without exp.force is refused
// before any work starts.
#include "sutra/base/error.hpp"
#include "sutra/pipeline/export.hpp"
#include "sutra/pipeline/progress.hpp"
#include "sutra/pipeline/quantize.hpp"

namespace sutra::pipeline {

struct QuantizeExportReport {
    QuantizeReport quantize;  // quantize.output: the temporary .qbin (removed)
    ExportReport exported;
};

// quant.output and exp.input are set here; quant.dry_run must be false.
Result<QuantizeExportReport> run_quantize_export(QuantizeOptions quant, ExportOptions exp,
                                                 ProgressObserver* progress);

}  // namespace sutra::pipeline
