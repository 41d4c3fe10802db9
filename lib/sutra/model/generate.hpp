#pragma once
// Text generation on any Model (family.hpp), one sequence:
//   state = new_state(); x = embed(prompt, 0); run_block(l, x, state) for every layer
//   (the whole prompt in one continued call per block); logits = head(last row of x);
//   repeat: id = sample(logits); ids += id; stop at an EOS id (kept in ids) or after
//   max_tokens ids; else x = embed({id}, position); every block; logits = head(x).
// The last id is never fed back (its logits would not be used). With temperature 0 the ids
// are the greedy path; otherwise sampler.hpp's seeded draw, so the same seed, options and
// model give the same ids on every machine.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/sampler.hpp"

namespace sutra::model {

// Runs `tokens` (following `position` tokens the state has seen) through every block and
// leaves the logits of the last one in `logits` [vocab] (the head runs on that row alone).
Status run_tokens(Model& model, std::span<const int32_t> tokens, int64_t position,
                  SequenceState& state, std::vector<float>& logits);

struct GenerateOptions {
    SamplerOptions sampler;
    int64_t max_tokens = 128;  // --max-tokens: ids generated at most (0: run the prompt only)
};

struct GenerateResult {
    std::vector<int32_t> ids;     // the generated ids (not the prompt), a stopping EOS included
    bool stopped_at_eos = false;  // the last id is one of ModelInfo::eos_ids
    bool added_bos = false;       // the prompt was empty and bos_id was run in its place
    int64_t prompt_tokens = 0;    // tokens run as the prompt (the BOS when added)
    // Steady-clock seconds of the prompt: embed, every block, head of its last row.
    double prompt_seconds = 0.0;
    // One-token steps run (embed + every block + head); ids.size() - 1 at most.
    int64_t decode_steps = 0;
    // Steady-clock seconds of every sampling and every step; the callback's time excluded.
    double generate_seconds = 0.0;

    // prompt_tokens / prompt_seconds, and decode_steps / generate_seconds (0 when nothing ran).
    double prompt_tokens_per_second() const;
    double generate_tokens_per_second() const;
};

// Called with each new id as soon as it is chosen (the EOS too); false stops generation with
// Errc::interrupted.
using TokenCallback = std::function<bool(int32_t id)>;

// invalid_argument for bad sampler options, max_tokens < 0, a prompt id outside
// [0, vocab_size) (naming its index), or an empty prompt on a model without a BOS.
Result<GenerateResult> generate(Model& model, std::span<const int32_t> prompt_ids,
                                const GenerateOptions& options, const TokenCallback& on_token = {});

}  // namespace sutra::model
