#pragma once
// `sutra dequantize`: .qbin in, a plain safetensors checkpoint out, with the original tensor
// names, shapes, order and __metadata__. Data checksums are verified first: a damaged file is
// refused rather than decoded.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "sutra/base/dtype.hpp"
#include "sutra/base/error.hpp"
#include "sutra/pipeline/progress.hpp"

namespace sutra::pipeline {

struct DequantizeOptions {
    std::filesystem::path input;
    std::filesystem::path output;
    // F32, F16 or BF16 for every floating-point tensor; nullopt = each tensor's original dtype.
    // Tensors of other dtypes (integers, bool) are always written unchanged.
    std::optional<DType> dtype = DType::F32;
    bool force = false;
};

struct DequantizeReport {
    std::string output;
    size_t tensors = 0;
    uint64_t output_file_bytes = 0;
    double seconds = 0;
};

// "f32" | "f16" | "bf16" | "original" (case-insensitive).
Result<std::optional<DType>> parse_dequantize_dtype(const std::string& text);

Result<DequantizeReport> run_dequantize(const DequantizeOptions& opt, ProgressObserver* progress);

}  // namespace sutra::pipeline
