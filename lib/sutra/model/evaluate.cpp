#include "sutra/model/evaluate.hpp"

#include <algorithm>
#include <cmath>

namespace sutra::model {
namespace {

struct Window {
    int64_t begin = 0;  // first text token
    int64_t count = 0;  // text tokens in the window (the window holds BOS + count tokens)
};

Result<std::vector<Window>> plan_windows(std::span<const int32_t> text, const EvalOptions& o,
                                         int64_t vocab) {
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
    std::vector<Window> windows;
    const int64_t chunk = o.seq_len - 1;
    for (int64_t b = 0; b < n; b += chunk)
        windows.push_back({b, std::min(chunk, n - b)});
    return windows;
}

// Embeds windows [first, last) and runs them through every block, one block at a time.
Status run_windows(Llama& m, std::span<const int32_t> text, const std::vector<Window>& windows,
                   size_t first, size_t last, int32_t bos, std::vector<Activations>& xs) {
    xs.resize(last - first);
    std::vector<int32_t> ids;
    for (size_t w = first; w < last; ++w) {
        ids.assign(1, bos);
        const auto b = static_cast<size_t>(windows[w].begin);
        ids.insert(
            ids.end(), text.begin() + static_cast<std::ptrdiff_t>(b),
            text.begin() + static_cast<std::ptrdiff_t>(b + static_cast<size_t>(windows[w].count)));
        SUTRA_TRY(m.embed(ids, 0, xs[w - first]));
    }
    for (int l = 0; l < m.config().num_hidden_layers; ++l)
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

int32_t bos_of(const Llama& m, const EvalOptions& o) {
    if (o.bos_id >= 0) return o.bos_id;
    const int64_t b = m.config().bos_token_id;
    return b >= 0 ? static_cast<int32_t>(b) : 1;
}

Status report(const EvalOptions& o, int64_t done, int64_t total) {
    if (o.progress && !o.progress(done, total)) {
        return make_error(Errc::interrupted, "evaluation stopped after " + std::to_string(done) +
                                                 " of " + std::to_string(total) + " tokens");
    }
    return {};
}

}  // namespace

Result<PerplexityResult> evaluate_perplexity(Llama& model, std::span<const int32_t> text_tokens,
                                             const EvalOptions& options) {
    const int64_t V = model.config().vocab_size;
    SUTRA_ASSIGN(std::vector<Window> windows, plan_windows(text_tokens, options, V));
    const int64_t total = windows.back().begin + windows.back().count;
    double nll = 0.0;
    int64_t scored = 0;
    std::vector<Activations> xs;
    std::vector<float> logits;
    const auto batch = static_cast<size_t>(options.window_batch);
    for (size_t first = 0; first < windows.size(); first += batch) {
        const size_t last = std::min(windows.size(), first + batch);
        SUTRA_TRY(
            run_windows(model, text_tokens, windows, first, last, bos_of(model, options), xs));
        SUTRA_ASSIGN(std::shared_ptr<const HeadWeights> head, model.head_weights());
        for (size_t w = first; w < last; ++w) {
            SUTRA_TRY(model.run_head(*head, xs[w - first], logits));
            for (int64_t i = 0; i < windows[w].count; ++i) {
                const float* row = logits.data() + i * V;
                const int32_t target = text_tokens[static_cast<size_t>(windows[w].begin + i)];
                nll += log_normaliser(row, V) - static_cast<double>(row[target]);
            }
            scored += windows[w].count;
        }
        SUTRA_TRY(report(options, scored, total));
    }
    return finish(nll, scored, static_cast<int64_t>(windows.size()));
}

Result<CompareResult> compare_models(Llama& reference, Llama& candidate,
                                     std::span<const int32_t> text_tokens,
                                     const EvalOptions& options) {
    const int64_t V = reference.config().vocab_size;
    if (candidate.config().vocab_size != V) {
        return make_error(Errc::invalid_argument,
                          "compare: the models have different vocabularies (" + std::to_string(V) +
                              " and " + std::to_string(candidate.config().vocab_size) + " tokens)");
    }
    SUTRA_ASSIGN(std::vector<Window> windows, plan_windows(text_tokens, options, V));
    const int64_t total = windows.back().begin + windows.back().count;
    double nll_ref = 0.0, nll_cand = 0.0, kl = 0.0;
    int64_t agree = 0, scored = 0;
    std::vector<Activations> xr, xc;
    std::vector<float> lr, lc;
    const auto batch = static_cast<size_t>(options.window_batch);
    for (size_t first = 0; first < windows.size(); first += batch) {
        const size_t last = std::min(windows.size(), first + batch);
        SUTRA_TRY(run_windows(reference, text_tokens, windows, first, last,
                              bos_of(reference, options), xr));
        SUTRA_TRY(run_windows(candidate, text_tokens, windows, first, last,
                              bos_of(reference, options), xc));
        SUTRA_ASSIGN(std::shared_ptr<const HeadWeights> hr, reference.head_weights());
        SUTRA_ASSIGN(std::shared_ptr<const HeadWeights> hc, candidate.head_weights());
        for (size_t w = first; w < last; ++w) {
            SUTRA_TRY(reference.run_head(*hr, xr[w - first], lr));
            SUTRA_TRY(candidate.run_head(*hc, xc[w - first], lc));
            for (int64_t i = 0; i < windows[w].count; ++i) {
                const float* r = lr.data() + i * V;
                const float* c = lc.data() + i * V;
                const double zr = log_normaliser(r, V);
                const double zc = log_normaliser(c, V);
                const int32_t target = text_tokens[static_cast<size_t>(windows[w].begin + i)];
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

Result<std::vector<int32_t>> greedy_decode(Llama& model, int32_t bos, int64_t steps) {
    if (steps < 0) return make_error(Errc::invalid_argument, "greedy decoding: negative steps");
    const int64_t V = model.config().vocab_size;
    std::vector<int32_t> ids{bos};
    KvCache cache;
    for (int64_t s = 0; s < steps; ++s) {
        const int32_t last = ids.back();
        SUTRA_ASSIGN(std::vector<float> logits,
                     model.forward(std::span<const int32_t>(&last, 1), &cache));
        ids.push_back(static_cast<int32_t>(argmax(logits.data(), V)));
    }
    return ids;
}

}  // namespace sutra::model
