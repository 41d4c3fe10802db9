#pragma once
// The calibration file: CalibrationData saved as a safetensors file ("sutra.calib" version 1).
// The layout is specified in STATS.md beside this header. Writing goes through io::OutputFile
// (temporary file, flush, rename), so the file appears complete or not at all, and the same
// data always gives the same bytes.
#include <filesystem>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/calib/calibration.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/llama/llama_config.hpp"

namespace sutra::calib {

inline constexpr std::string_view kFormatName = "sutra.calib";
inline constexpr int kFormatVersion = 1;
inline constexpr std::string_view kTokensTensor = "calib.tokens";

// Writes `data` to `path`. exists without `force`; invalid_argument when `path` is one of
// `inputs` (the model's files) or when `data` is inconsistent (vector lengths, token count,
// a linear without statistics); io on write errors.
Status save_calibration(const CalibrationData& data, const std::filesystem::path& path, bool force,
                        const std::vector<std::filesystem::path>& inputs = {});

// Reads and validates a calibration file against the model it is to be used with. Errors:
// not_found / io for an unreadable file; bad_format when it is not a valid safetensors file,
// not a calibration file, or any tensor is missing, unexpected, of the wrong dtype or shape,
// holds a negative or non-finite value, inconsistent statistics (mean |x| above max |x|, ...)
// or token ids outside the vocabulary; unsupported for another format version;
// invalid_argument when the file was made for a model with another config (the message
// names the field, both values, and tells to run `sutra calibrate` on this model; for a file
// of another family, both shapes).
Result<CalibrationData> load_calibration(const std::filesystem::path& path,
                                         const model::LlamaConfig& expected);
// The same for a model of any family: a Llama-family model as load_calibration(path, its
// config); another family's file must have its fingerprint (ModelFingerprint::of) and the
// statistics of every linear_inputs(model), and its windows start with a BOS exactly when the
// model has one (ModelInfo::bos_id; bos_token_id -1 otherwise). A file of another family or
// shape is invalid_argument, the message naming both shapes.
Result<CalibrationData> load_calibration(const std::filesystem::path& path, model::Model& expected);

}  // namespace sutra::calib
