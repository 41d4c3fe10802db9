#pragma once
// What AWQ needs before it runs, shared by `quantize` into a .qbin and into GGUF: the model's
// config and the calibration data, from a statistics file (`sutra calibrate`), a llama.cpp
// imatrix (either layout) or computed now from calibration text (one full-precision pass,
// block by block), and the loss the search uses.
#include <cstdint>
#include <optional>
#include <string>

#include "sutra/base/error.hpp"
#include "sutra/calib/calibration.hpp"
#include "sutra/calib/imatrix_file.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/llama/llama_config.hpp"
#include "sutra/pipeline/awq_block.hpp"
#include "sutra/pipeline/quantize.hpp"

namespace sutra::pipeline {

struct AwqSetup {
    model::LlamaConfig config;
    calib::CalibrationData calib;
    std::string tokenizer;                      // with calibration text: the tokenizer used
    int64_t text_tokens = 0;                    // and the tokens of the documents read
    std::optional<calib::ImatrixInfo> imatrix;  // --calib was a llama.cpp imatrix
    AwqLoss loss = AwqLoss::module_output;      // resolved from opt.awq.loss and the data
    // A family with the generic block view (model/family.hpp; not Llama): its calibration
    // windows, each from the initial state (`config` and `calib` are then unused but for
    // calib.windows / calib.seq_len).
    bool family_path = false;
    std::vector<std::vector<int32_t>> family_windows;
};

// nullopt when the options ask for no calibration (--method rtn, or no --calib /
// --calib-text); errors for contradictory options, a missing config.json, or calibration
// data that do not fit the model.
// `family`: the model as its family runs it, when one claims the checkpoint (null otherwise);
// a family other than Llama takes the generic path (text or token-id calibration, AWQ only).
Result<std::optional<AwqSetup>> prepare_awq(const QuantizeOptions& opt, const io::Checkpoint& ck,
                                            model::Model* family = nullptr);

}  // namespace sutra::pipeline
