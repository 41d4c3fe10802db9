#pragma once
// `sutra quantize MODEL --format gguf -o OUT.gguf`: a checkpoint straight into GGUF, without a
// .qbin in between (so the weights are rounded once, to llama.cpp's types):
//   - with calibration (--calib-text, --calib stats or imatrix; method auto or awq), each
//     decoder block AWQ-transformed on the grid of the type its linears are written in, and
//     every linear rounded with the importance of its transformed input (mean x^2 / s^2):
//     AWQ's scales and clipping inside GGUF;
//   - without (or --method rtn), the checkpoint's weights rounded as llama.cpp rounds them.
// The output rules are export's (pipeline/export.hpp).
#include "sutra/base/error.hpp"
#include "sutra/pipeline/export.hpp"
#include "sutra/pipeline/progress.hpp"
#include "sutra/pipeline/quantize.hpp"
#include "sutra/pipeline/quantize_export.hpp"

namespace sutra::pipeline {

// quant.input is the checkpoint; exp.output the .gguf; exp.gguf_type the type or mix.
// quant's plan options (preset, bits, rules) do not apply: the GGUF type decides.
Result<QuantizeExportReport> run_quantize_gguf(const QuantizeOptions& quant,
                                               const ExportOptions& exp,
                                               ProgressObserver* progress);

}  // namespace sutra::pipeline
