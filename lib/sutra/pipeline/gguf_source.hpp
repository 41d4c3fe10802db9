#pragma once
// Where a GGUF export gets its weights: the tensors (Hugging Face names, shapes, dtypes), their
// rows as f32, and, where calibration data exist, the importance of each input column (mean
// x^2 of that channel: llama.cpp's imatrix semantics) that the ggml encoders weight their
// rounding error by. Sources:
//   - a .qbin: its weights as stored (dequantized), no importance (export_gguf);
//   - a checkpoint, as is (no calibration) or AWQ-transformed block by block with the
//     transformed weights' importance (quantize_gguf: `sutra quantize --format gguf`).
// The exporter reads tensors in the GGUF order (token_embd, then the blocks in increasing
// layer order, then the rest) and each tensor's rows front to back; a source may rely on it.
#include <cstdint>
#include <string>
#include <vector>

#include "sutra/base/dtype.hpp"
#include "sutra/base/error.hpp"
#include "sutra/quant/ggml_types.hpp"

namespace sutra::pipeline {

struct GgufSourceTensor {
    std::string name;  // Hugging Face name
    std::vector<uint64_t> shape;
    DType dtype = DType::F32;
    int qbin_bits = 0;  // bits of a quantized .qbin record; 0: floating-point
};

class GgufSource {
  public:
    virtual ~GgufSource() = default;
    virtual const std::vector<GgufSourceTensor>& tensors() const = 0;
    // Called once, before the first read, with the type each tensor will be written in
    // (AWQ searches its scales and clipping for that type's grid).
    virtual Status plan(const std::vector<quant::GgmlType>& types) {
        (void)types;
        return {};
    }
    // Rows [row0, row0 + n) of tensor i (a 1-D tensor is one row) as f32 into out.
    virtual Status read_rows(size_t i, uint64_t row0, uint64_t n, float* out) = 0;
    // Mean x^2 per input column of tensor i, or nullptr (no calibration, or not a linear).
    // Valid until the next call on the source.
    virtual const std::vector<float>* importance(size_t i) = 0;
    // After the last read: the input was not changed while it was read.
    virtual Status check_unchanged() const = 0;
};

}  // namespace sutra::pipeline
