#include "sutra/model/evaluate.hpp"

#include <algorithm>
#include <cmath>

namespace sutra::model {
namespace {

struct Window {
    int64_t begin = 0;  // first scored text token
    int64_t count = 0;  // scored tokens (the window holds a start token + count tokens)
};

// bos < 0: no BOS, windows start with the text token before their chunk.
Result<std::vector<Window>> plan_windows(std::span<const int32_t> text, const EvalOptions& o,
                                         int64_t vocab, int32_t bos) {
    if (o.seq_len < 2) {
        return make_error(Errc::invalid_argument,
                          "evaluation: seq_len must be at least 2 (BOS + one token), got " +
                              std::to_string(o.seq_len));
    }
    if (o.window_batch < 1) {
        return make_error(Errc::invalid_argument, "evaluation: window_batch must be at least 1");
    }
    if (o.max_tokens < 0) {
        return make_error(Errc::invalid_argument, "evaluation: max_tokens must not be negative");
    }
    auto n = static_cast<int64_t>(text.size());
    if (o.max_tokens > 0) n = std::min(n, o.max_tokens);
    if (n == 0) return make_error(Errc::invalid_argument, "evaluation: the text has no tokens");
    for (int64_t i = 0; i < n; ++i) {
        const int32_t id = text[static_cast<size_t>(i)];
        if (id < 0 || id >= vocab) {
            return make_error(Errc::invalid_argument,
                              "evaluation: text token " + std::to_string(i) + " has id " +
                                  std::to_string(id) + ", not below the model's vocab_size " +
                                  std::to_string(vocab) + " (tokens from another tokenizer?)");
        }
    }
    if (bos < 0 && n < 2)
        return make_error(Errc::invalid_argument,
                          "evaluation: a model without a BOS token needs at least two text "
                          "tokens (the first is context only)");
    std::vector<Window> windows;
    const int64_t chunk = o.seq_len - 1;
    for (int64_t b = bos < 0 ? 1 : 0; b < n; b += chunk)
        windows.push_back({b, std::min(chunk, n - b)});
    return windows;
}

// Embeds windows [first, last) and runs them through every block, one block at a time.
Status run_windows(Model& m, std::span<const int32_t> text, const std::vector<Window>& windows,
                   size_t first, size_t last, int32_t bos, std::vector<Activations>& xs) {
    xs.resize(last - first);
    std::vector<int32_t> ids;
    for (size_t w = first; w < last; ++w) {
        ids.assign(1, bos >= 0 ? bos : text[static_cast<size_t>(windows[w].begin - 1)]);
        const auto b = static_cast<size_t>(windows[w].begin);
        ids.insert(
            ids.end(), text.begin() + static_cast<std::ptrdiff_t>(b),
            text.begin() + static_cast<std::ptrdiff_t>(b + static_cast<size_t>(windows[w].count)));
        SUTRA_TRY(m.embed(ids, 0, xs[w - first]));
    }
    for (int l = 0; l < static_cast<int>(m.info().num_layers); ++l)
        SUTRA_TRY(m.run_block(l, xs));
    return {};
}

// log of the softmax normaliser of one row of logits.
double log_normaliser(const float* row, int64_t n) {
    float mx = row[0];
    for (int64_t i = 1; i < n; ++i)
        mx = std::max(mx, row[i]);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i)
        sum += std::exp(static_cast<double>(row[i]) - static_cast<double>(mx));
    return static_cast<double>(mx) + std::log(sum);
}

int64_t argmax(const float* row, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i) {
        if (row[i] > row[best]) best = i;
    }
    return best;
}

PerplexityResult finish(double nll_sum, int64_t tokens, int64_t windows) {
    PerplexityResult r;
    r.tokens = tokens;
    r.windows = windows;
    r.mean_nll = tokens > 0 ? nll_sum / static_cast<double>(tokens) : 0.0;
    r.perplexity = std::exp(r.mean_nll);
    return r;
}

int32_t bos_of(const Model& m, const EvalOptions& o) {
    return o.bos_id >= 0 ? o.bos_id : m.info().bos_id;
}

Status report(const EvalOptions& o, int64_t done, int64_t total) {
    if (o.progress && !o.progress(done, total)) {
        return make_error(Errc::interrupted, "evaluation stopped after " + std::to_string(done) +
                                                 " of " + std::to_string(total) + " tokens");
    }
    return {};
}

}  // namespace

Result<PerplexityResult> evaluate_perplexity(Model& model, std::span<const int32_t> text_tokens,
                                             const EvalOptions& options) {
    const int64_t V = model.info().vocab_size;
    const int32_t bos = bos_of(model, options);
    SUTRA_ASSIGN(std::vector<Window> windows, plan_windows(text_tokens, options, V, bos));
    const int64_t total = windows.back().begin + windows.back().count - windows.front().begin;
    double nll = 0.0;
    int64_t scored = 0;
    std::vector<Activations> xs;
    const auto batch = static_cast<size_t>(options.window_batch);
    for (size_t first = 0; first < windows.size(); first += batch) {
        const size_t last = std::min(windows.size(), first + batch);
        SUTRA_TRY(run_windows(model, text_tokens, windows, first, last, bos, xs));
        SUTRA_TRY(model.head_each(xs, [&](size_t i, std::span<const float> logits) -> Status {
            const Window& w = windows[first + i];
            for (int64_t j = 0; j < w.count; ++j) {
                const float* row = logits.data() + j * V;
                const int32_t target = text_tokens[static_cast<size_t>(w.begin + j)];
                nll += log_normaliser(row, V) - static_cast<double>(row[target]);
            }
            scored += w.count;
            return {};
        }));
        SUTRA_TRY(report(options, scored, total));
    }
    return finish(nll, scored, static_cast<int64_t>(windows.size()));
}

Result<CompareResult> compare_models(Model& reference, Model& candidate,
                                     std::span<const int32_t> text_tokens,
                                     const EvalOptions& options) {
    const int64_t V = reference.info().vocab_size;
    if (candidate.info().vocab_size != V) {
        return make_error(Errc::invalid_argument,
                          "compare: the models have different vocabularies (" + std::to_string(V) +
                              " and " + std::to_string(candidate.info().vocab_size) + " tokens)");
    }
    const int32_t bos = bos_of(reference, options);
    SUTRA_ASSIGN(std::vector<Window> windows, plan_windows(text_tokens, options, V, bos));
    const int64_t total = windows.back().begin + windows.back().count - windows.front().begin;
    double nll_ref = 0.0, nll_cand = 0.0, kl = 0.0;
    int64_t agree = 0, scored = 0;
    std::vector<Activations> xr, xc;
    std::vector<float> lr;
    const auto batch = static_cast<size_t>(options.window_batch);
    for (size_t first = 0; first < windows.size(); first += batch) {
        const size_t last = std::min(windows.size(), first + batch);
        SUTRA_TRY(run_windows(reference, text_tokens, windows, first, last, bos, xr));
        SUTRA_TRY(run_windows(candidate, text_tokens, windows, first, last, bos, xc));
        // Window by window, the reference's logits and then the candidate's (a family keeps its
        // head weights loaded from one head_each call to the next until its blocks run again).
        for (size_t wi = 0; wi < last - first; ++wi) {
            SUTRA_TRY(reference.head_each(std::span<const Activations>(&xr[wi], 1),
                                          [&](size_t, std::span<const float> l) -> Status {
                                              lr.assign(l.begin(), l.end());
                                              return {};
                                          }));
            SUTRA_TRY(candidate.head_each(
                std::span<const Activations>(&xc[wi], 1),
                [&](size_t, std::span<const float> lc) -> Status {
                    const size_t w = first + wi;
                    for (int64_t i = 0; i < windows[w].count; ++i) {
                        const float* r = lr.data() + i * V;
                        const float* c = lc.data() + i * V;
                        const double zr = log_normaliser(r, V);
                        const double zc = log_normaliser(c, V);
                        const int32_t target =
                            text_tokens[static_cast<size_t>(windows[w].begin + i)];
                        nll_ref += zr - static_cast<double>(r[target]);
                        nll_cand += zc - static_cast<double>(c[target]);
                        double k = 0.0;
                        for (int64_t j = 0; j < V; ++j) {
                            const double lpr = static_cast<double>(r[j]) - zr;
                            const double lpc = static_cast<double>(c[j]) - zc;
                            k += std::exp(lpr) * (lpr - lpc);
                        }
                        kl += k;
                        if (argmax(r, V) == argmax(c, V)) ++agree;
                    }
                    scored += windows[w].count;
                    return {};
                }));
        }
        SUTRA_TRY(report(options, scored, total));
    }
    CompareResult out;
    const auto nw = static_cast<int64_t>(windows.size());
    out.reference = finish(nll_ref, scored, nw);
    out.candidate = finish(nll_cand, scored, nw);
    out.tokens = scored;
    out.mean_kl = kl / static_cast<double>(scored);
    out.top1_agreement = static_cast<double>(agree) / static_cast<double>(scored);
    return out;
}

Result<std::vector<int32_t>> greedy_decode(Model& model, int32_t bos, int64_t steps) {
    if (steps < 0) return make_error(Errc::invalid_argument, "greedy decoding: negative steps");
    const int64_t V = model.info().vocab_size;
    std::vector<int32_t> ids{bos};
    std::unique_ptr<SequenceState> state = model.new_state();
    for (int64_t s = 0; s < steps; ++s) {
        const int32_t last = ids.back();
        SUTRA_ASSIGN(std::vector<float> logits,
                     forward(model, std::span<const int32_t>(&last, 1), state.get()));
        ids.push_back(static_cast<int32_t>(argmax(logits.data(), V)));
    }
    return ids;
}

}  // namespace sutra::model
