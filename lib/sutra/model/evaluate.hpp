#pragma once
// Quality measurements of a model on a token stream, and greedy decoding.
//
// Window protocol (the one of shared/text/README.md): the text tokens (encoded without BOS)
// are cut into consecutive chunks of seq_len - 1 tokens; each window is BOS followed by one
// chunk, and every text token is predicted exactly once, from BOS and the text before it in
// its window. The last window may be shorter. A model without a BOS (ModelInfo::bos_id -1:
// RWKV) starts each window with the text token before its chunk instead, and the first text
// token, which nothing precedes, is not scored. All sums are accumulated in double.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/family.hpp"

namespace sutra::model {

struct EvalOptions {
    int64_t seq_len = 256;  // window length, BOS included; >= 2
    // The window-start token; -1: the model's (ModelInfo::bos_id, and none when it has none).
    int32_t bos_id = -1;
    int64_t max_tokens = 0;  // score only the first max_tokens text tokens; 0 = all
    // Windows run through a block together, so each block's weights are loaded once per batch
    // (when the model does not keep its weights). Memory: batch * seq_len * hidden floats.
    int64_t window_batch = 16;
    // Called after every batch with (scored tokens, total tokens); returning false stops the
    // evaluation with Errc::interrupted.
    std::function<bool(int64_t done, int64_t total)> progress;
};

struct PerplexityResult {
    double perplexity = 0.0;  // exp(mean_nll)
    double mean_nll = 0.0;    // natural log, per scored token
    int64_t tokens = 0;       // scored tokens
    int64_t windows = 0;
};

struct CompareResult {
    PerplexityResult reference;
    PerplexityResult candidate;
    double mean_kl = 0.0;         // mean over tokens of KL(P_reference || P_candidate), nats
    double top1_agreement = 0.0;  // fraction of tokens whose argmax is the same
    int64_t tokens = 0;
};

// Perplexity of `model` on `text_tokens`. invalid_argument for an empty text, seq_len < 2,
// or a token id outside the vocabulary (the message gives its index in the text).
Result<PerplexityResult> evaluate_perplexity(Model& model, std::span<const int32_t> text_tokens,
                                             const EvalOptions& options = {});

// Both models on the same windows. They must have the same vocab_size.
Result<CompareResult> compare_models(Model& reference, Model& candidate,
                                     std::span<const int32_t> text_tokens,
                                     const EvalOptions& options = {});

// Greedy decoding: feeds `bos`, then each argmax (lowest id on ties), for `steps` steps, one
// token at a time on a state. Returns bos followed by the `steps` generated ids (no early stop).
Result<std::vector<int32_t>> greedy_decode(Model& model, int32_t bos, int64_t steps);

}  // namespace sutra::model
