#include "sutra/model/generate.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "sutra/base/stopwatch.hpp"

namespace sutra::model {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

Status run_tokens(Model& model, std::span<const int32_t> tokens, int64_t position,
                  SequenceState& state, std::vector<float>& logits) {
    const ModelInfo& info = model.info();
    Activations x;
    SUTRA_TRY(model.embed(tokens, position, x));
    const auto rows = static_cast<int64_t>(tokens.size());
    if (x.rows != rows || x.cols <= 0 ||
        x.data.size() != static_cast<size_t>(x.rows) * static_cast<size_t>(x.cols))
        return make_error(Errc::internal, "generate: embed of " + std::to_string(rows) +
                                              " tokens gave activations [" +
                                              std::to_string(x.rows) + ", " +
                                              std::to_string(x.cols) + "]");
    const auto layers = static_cast<int>(info.num_layers);
    for (int l = 0; l < layers; ++l)
        SUTRA_TRY(model.run_block(l, x, state));
    if (x.rows > 1) {
        // Only the last row's logits are needed: the head runs on it alone.
        const auto cols = static_cast<size_t>(x.cols);
        const auto last = static_cast<size_t>(x.rows - 1);
        Activations tail;
        tail.rows = 1;
        tail.cols = x.cols;
        tail.first_position = x.first_position + x.rows - 1;
        tail.data.assign(x.data.begin() + static_cast<ptrdiff_t>(last * cols),
                         x.data.begin() + static_cast<ptrdiff_t>((last + 1) * cols));
        x = std::move(tail);
    }
    SUTRA_TRY(model.head(x, logits));
    if (logits.size() != static_cast<size_t>(info.vocab_size))
        return make_error(Errc::internal, "generate: the head gave " +
                                              std::to_string(logits.size()) +
                                              " logits for one token, expected vocab_size " +
                                              std::to_string(info.vocab_size));
    return {};
}

double GenerateResult::prompt_tokens_per_second() const {
    return prompt_seconds > 0.0 ? static_cast<double>(prompt_tokens) / prompt_seconds : 0.0;
}

double GenerateResult::generate_tokens_per_second() const {
    return generate_seconds > 0.0 ? static_cast<double>(decode_steps) / generate_seconds : 0.0;
}

Result<GenerateResult> generate(Model& model, std::span<const int32_t> prompt_ids,
                                const GenerateOptions& options, const TokenCallback& on_token) {
    SUTRA_ASSIGN(Sampler sampler, Sampler::create(options.sampler));
    if (options.max_tokens < 0)
        return make_error(Errc::invalid_argument,
                          "--max-tokens " + std::to_string(options.max_tokens) +
                              ": must be >= 0 (the number of tokens to generate)");
    const ModelInfo& info = model.info();
    if (info.vocab_size <= 0 || info.num_layers < 0)
        return make_error(Errc::internal, "generate: the model reports vocab_size " +
                                              std::to_string(info.vocab_size) + " and " +
                                              std::to_string(info.num_layers) + " layers");

    GenerateResult r;
    std::vector<int32_t> bos;
    std::span<const int32_t> prompt = prompt_ids;
    if (prompt.empty()) {
        if (info.bos_id < 0)
            return make_error(Errc::invalid_argument,
                              "an empty prompt needs a model with a BOS token; give --prompt");
        bos.push_back(info.bos_id);
        prompt = bos;
        r.added_bos = true;
    }
    for (size_t i = 0; i < prompt.size(); ++i)
        if (prompt[i] < 0 || prompt[i] >= info.vocab_size)
            return make_error(Errc::invalid_argument,
                              "prompt token " + std::to_string(i) + " is id " +
                                  std::to_string(prompt[i]) + ", outside the vocabulary [0, " +
                                  std::to_string(info.vocab_size) +
                                  ") of this model; was the prompt encoded with its tokenizer?");
    r.prompt_tokens = static_cast<int64_t>(prompt.size());

    std::unique_ptr<SequenceState> state = model.new_state();
    if (!state) return make_error(Errc::internal, "generate: the model gave no sequence state");
    std::vector<float> logits;
    const auto t_prompt = Clock::now();
    SUTRA_TRY(run_tokens(model, prompt, 0, *state, logits));
    r.prompt_seconds = seconds_since(t_prompt);

    r.ids.reserve(static_cast<size_t>(std::min<int64_t>(options.max_tokens, 4096)));
    int64_t position = r.prompt_tokens;
    for (int64_t n = 0; n < options.max_tokens; ++n) {
        auto t0 = Clock::now();
        SUTRA_ASSIGN(const int32_t id, sampler.sample(logits));
        r.generate_seconds += seconds_since(t0);
        r.ids.push_back(id);
        if (on_token && !on_token(id))
            return make_error(Errc::interrupted, "generation stopped after " +
                                                     std::to_string(r.ids.size()) + " tokens");
        if (std::find(info.eos_ids.begin(), info.eos_ids.end(), id) != info.eos_ids.end()) {
            r.stopped_at_eos = true;
            break;
        }
        if (n + 1 == options.max_tokens) break;
        t0 = Clock::now();
        SUTRA_TRY(run_tokens(model, std::span<const int32_t>(&id, 1), position, *state, logits));
        r.generate_seconds += seconds_since(t0);
        ++position;
        ++r.decode_steps;
    }
    return r;
}

}  // namespace sutra::model
