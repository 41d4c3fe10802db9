#pragma once
// `sutra export --format autoawq`: a .qbin written as an AutoAWQ "GEMM" checkpoint folder
// (layout and files: format/AUTOAWQ.md) that vLLM and transformers load:
//   model.safetensors (or model-NNNNN-of-NNNNN.safetensors + model.safetensors.index.json
//   above opt.max_shard_bytes), config.json (the source's, with quantization_config and
//   torch_dtype float16), and the tokenizer and generation files of the source folder.
//
// Every 4-bit linear of the .qbin becomes P.qweight / P.qzeros / P.scales holding the same
// codes, zero points and F16 scales, so it dequantizes to exactly what `sutra dequantize`
// gives. Every other floating-point tensor is written in F16 (other dtypes unchanged).
// A quantized linear the layout cannot hold (not 4-bit, group "row", a group size that does
// not divide its width, an output width not a multiple of 8, a group size other than the
// model's) is refused before anything is written, naming it; with opt.keep_unsupported it is
// dequantized to F16 and listed in modules_to_not_convert. Linears the .qbin keeps unquantized
// are listed there too (the embedding and lm_head are not linears AutoAWQ converts).
//
// The source folder (config.json, tokenizer) is opt.model_dir, else the .qbin's folder; the
// .qbin does not record where it was made from. Streaming: one tensor in memory at a time.
// The folder appears whole (written as a hidden sibling, then renamed); an existing output
// is replaced whole with opt.force; the input, the source folder and any folder holding them
// are never the output.
#include "sutra/base/error.hpp"
#include "sutra/pipeline/export.hpp"
#include "sutra/pipeline/progress.hpp"

namespace sutra::pipeline {

Result<ExportReport> export_autoawq(const ExportOptions& opt, ProgressObserver* progress);

}  // namespace sutra::pipeline
