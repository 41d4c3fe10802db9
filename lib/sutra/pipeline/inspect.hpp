#pragma once
// `sutra inspect`: what a .safetensors checkpoint or a .qbin holds, without reading tensor data.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sutra/base/error.hpp"

namespace sutra::pipeline {

struct InspectTensor {
    std::string name;
    std::string dtype;     // original dtype
    std::string encoding;  // "raw", "q4", ... (safetensors: the dtype)
    std::string group_size;
    std::vector<uint64_t> shape;
    uint64_t bytes = 0;  // bytes stored in the file
    // With salience: share of high-salience input channels (data-free, from the preceding
    // norm's weight; see quant/salience.hpp); negative when the tensor follows no norm.
    double salient_share = -1;
};

struct InspectReport {
    std::string path;
    std::string kind;  // "safetensors", "sharded safetensors", "qbin"
    std::vector<std::string> files;
    uint64_t file_bytes = 0;
    std::vector<std::pair<std::string, std::string>> metadata;  // qbin: without the profile
    nlohmann::json profile;  // qbin only: the sutra profile without the per-tensor records
    std::vector<InspectTensor> tensors;
    // Unquantized checkpoints: the tokenizer found in the model folder (as calibrate, eval and
    // quantize --calib-text would use it), or why there is none usable.
    std::string tokenizer;
    std::string tokenizer_file;  // "" when none was found
};

// salience_threshold: also report each linear's share of high-salience channels (for an
// unquantized checkpoint only).
Result<InspectReport> run_inspect(const std::filesystem::path& path,
                                  std::optional<double> salience_threshold = std::nullopt);

}  // namespace sutra::pipeline
