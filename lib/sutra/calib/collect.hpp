#pragma once
// Collects per-input-channel activation statistics of every linear layer by running the
// full-precision forward pass over calibration windows (see calibration.hpp for the window
// protocol). The model runs block by block (Llama::embed, then Llama::run_block for each
// layer over a batch of windows), so with the default LlamaOptions one block's weights are
// in memory at a time; the input of lm_head (the final RMSNorm of the residual stream) is
// computed here, without the vocabulary-sized output projection.
//
// Every sum is accumulated in double, in a fixed order (windows in order, rows in order), and
// the forward pass itself is deterministic, so the result does not depend on the number of
// threads or on window_batch.
#include <cstdint>
#include <functional>
#include <span>

#include "sutra/base/error.hpp"
#include "sutra/calib/calibration.hpp"
#include "sutra/model/llama/llama.hpp"

namespace sutra::calib {

struct CollectOptions {
    int64_t seq_len = 256;       // window length, BOS included; >= 2
    int64_t max_tokens = 16384;  // text tokens used at most; 0 = all
    int32_t bos_id = -1;         // -1: the config's bos_token_id, or 1 when it has none
    // Windows run through a block together, so a block's weights are loaded once per batch.
    // Memory: about window_batch * seq_len * hidden_size floats for the residual streams.
    int64_t window_batch = 64;
    // Called after each block of each batch with (steps done, total steps); returning false
    // stops with Errc::interrupted.
    std::function<bool(int64_t done, int64_t total)> progress;
};

// Statistics of every linear input (linear_inputs(model.config())) over the windows cut from
// `text_tokens`. Uses (and on return clears) the model's linear observer. Errors:
// invalid_argument from cut_windows or for token ids outside the vocabulary; errors of the
// forward pass (weights that cannot be read); bad_format when an activation is not finite
// (the message names the linear).
// The id each window starts with: bos_id, or (-1) the config's bos_token_id, or 1.
int32_t window_start_id(const model::LlamaConfig& cfg, int32_t bos_id);

Result<CalibrationData> collect_stats(model::Llama& model, std::span<const int32_t> text_tokens,
                                      const CollectOptions& options);

inline Result<CalibrationData> collect_stats(model::Llama& model,
                                             std::span<const int32_t> text_tokens, int64_t seq_len,
                                             int64_t max_tokens) {
    CollectOptions o;
    o.seq_len = seq_len;
    o.max_tokens = max_tokens;
    return collect_stats(model, text_tokens, o);
}

}  // namespace sutra::calib
