#pragma once
// Collects per-input-channel activation statistics of every linear layer by running the
// full-precision forward pass over calibration windows (see calibration.hpp for the window
// protocol), for a model of any family (model/family.hpp). The model runs block by block
// (Model::embed, then Model::run_block for each layer over a batch of windows), so with the
// default ModelOptions one block's weights are in memory at a time; the input of the head is
// what Model::observe_head reports (for Llama the final RMSNorm of the residual stream,
// computed without the vocabulary-sized output projection).
//
// The linears recorded are linear_inputs(model): every block's block_linears(), keyed by their
// weight's name, and "lm_head"; an input the model reports for any other linear is ignored.
// Every sum is accumulated in double, in a fixed order (windows in order, rows in order), and
// the forward pass itself is deterministic, so the result does not depend on the number of
// threads or on window_batch.
#include <cstdint>
#include <functional>
#include <span>

#include "sutra/base/error.hpp"
#include "sutra/calib/calibration.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/llama/llama.hpp"

namespace sutra::calib {

struct CollectOptions {
    int64_t seq_len = 256;       // window length, BOS included; >= 2
    int64_t max_tokens = 16384;  // text tokens used at most; 0 = all
    // The id each window starts with; -1: the model's (window_start_id: for Llama the config's
    // bos_token_id, or 1; none for a family without a BOS, RWKV: windows of seq_len text
    // tokens).
    int32_t bos_id = -1;
    // Windows run through a block together, so a block's weights are loaded once per batch.
    // Memory: about window_batch * seq_len * hidden_size floats for the residual streams.
    int64_t window_batch = 64;
    // Called after each block of each batch with (steps done, total steps); returning false
    // stops with Errc::interrupted.
    std::function<bool(int64_t done, int64_t total)> progress;
};

// The id each window of a Llama model starts with: bos_id, or (-1) the config's bos_token_id,
// or 1.
int32_t window_start_id(const model::LlamaConfig& cfg, int32_t bos_id);

// Statistics of every linear input (linear_inputs(model)) over the windows cut from
// `text_tokens`; CalibrationData::model is ModelFingerprint::of(model). Uses (and on return
// clears) the model's linear observer. Errors: invalid_argument from cut_windows or for token
// ids outside the vocabulary; unsupported for a family that lists no linears of its blocks;
// errors of the forward pass (weights that cannot be read); bad_format when an activation is
// not finite (the message names the linear); internal when the forward pass does not report
// a listed linear's input once per token.
Result<CalibrationData> collect_stats(model::Model& model, std::span<const int32_t> text_tokens,
                                      const CollectOptions& options);
// The same for a Llama (through model::llama::view).
Result<CalibrationData> collect_stats(model::Llama& model, std::span<const int32_t> text_tokens,
                                      const CollectOptions& options);

template <class M>
Result<CalibrationData> collect_stats(M& model, std::span<const int32_t> text_tokens,
                                      int64_t seq_len, int64_t max_tokens) {
    CollectOptions o;
    o.seq_len = seq_len;
    o.max_tokens = max_tokens;
    return collect_stats(model, text_tokens, o);
}

}  // namespace sutra::calib
