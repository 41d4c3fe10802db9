#include "sutra/model/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace sutra::model {

uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

namespace {

uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

std::string number(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    std::string s = std::to_string(v);
    // to_string gives six decimals; drop the trailing zeros ("0.500000" -> "0.5").
    while (s.size() > 1 && s.back() == '0')
        s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

}  // namespace

Status validate_sampler_options(const SamplerOptions& o) {
    if (!std::isfinite(o.temperature) || o.temperature < 0.0)
        return make_error(Errc::invalid_argument,
                          "--temperature " + number(o.temperature) +
                              ": must be a finite number >= 0 (0 = greedy, 1 = the model's "
                              "own distribution)");
    if (!(o.top_p > 0.0 && o.top_p <= 1.0))
        return make_error(Errc::invalid_argument,
                          "--top-p " + number(o.top_p) +
                              ": must be in (0, 1] (the probability mass kept; 1 = off)");
    if (o.top_k < 0)
        return make_error(Errc::invalid_argument,
                          "--top-k " + std::to_string(o.top_k) +
                              ": must be >= 0 (the number of most likely tokens kept; 0 = off)");
    return {};
}

Rng::Rng(uint64_t seed) {
    for (auto& s : s_)
        s = splitmix64(seed);
}

Rng::Rng(const std::array<uint64_t, 4>& state) : s_(state) {}

uint64_t Rng::next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

double Rng::uniform() {
    return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

Result<Sampler> Sampler::create(const SamplerOptions& options) {
    SUTRA_TRY(validate_sampler_options(options));
    return Sampler(options);
}

namespace {

// Higher logit first; lower id first among equal logits. A total order on distinct ids.
template <class C>
bool ranks_before(const C& a, const C& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

}  // namespace

bool Sampler::kept(std::span<const float> logits, int32_t id) const {
    if (!has_cutoff_) return true;
    return !ranks_before(cutoff_, Candidate{logits[static_cast<size_t>(id)], id});
}

Result<int32_t> Sampler::prepare(std::span<const float> logits) {
    has_cutoff_ = false;
    if (logits.empty())
        return make_error(Errc::invalid_argument, "sampler: the logits row is empty");
    if (logits.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        return make_error(Errc::invalid_argument,
                          "sampler: " + std::to_string(logits.size()) +
                              " logits is more than int32 token ids can index");
    const float inf = std::numeric_limits<float>::infinity();
    float max_logit = -inf;
    int32_t argmax = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
        const float v = logits[i];
        if (std::isnan(v) || v == inf)
            return make_error(Errc::invalid_argument,
                              "sampler: logit of token " + std::to_string(i) + " is " +
                                  (std::isnan(v) ? "NaN" : "+inf") +
                                  "; the model produced a non-finite value");
        if (v > max_logit) {  // strict: the lowest id among equal maxima
            max_logit = v;
            argmax = static_cast<int32_t>(i);
        }
    }
    if (max_logit == -inf)
        return make_error(Errc::invalid_argument, "sampler: every logit is -inf");
    const double t = options_.temperature;
    if (t == 0.0) return argmax;

    const size_t n = logits.size();
    weights_.resize(n);
    for (size_t i = 0; i < n; ++i)
        weights_[i] =
            logits[i] == -inf
                ? 0.0
                : std::exp((static_cast<double>(logits[i]) - static_cast<double>(max_logit)) / t);

    const bool use_k = options_.top_k > 0 && static_cast<uint64_t>(options_.top_k) < n;
    const bool use_p = options_.top_p < 1.0;
    if (!use_k && !use_p) return argmax;

    candidates_.resize(n);
    for (size_t i = 0; i < n; ++i)
        candidates_[i] = Candidate{logits[i], static_cast<int32_t>(i)};
    size_t m = n;
    if (use_k) {
        m = static_cast<size_t>(options_.top_k);
        std::nth_element(candidates_.begin(), candidates_.begin() + static_cast<ptrdiff_t>(m - 1),
                         candidates_.end(), ranks_before<Candidate>);
        cutoff_ = candidates_[m - 1];
        has_cutoff_ = true;
        candidates_.resize(m);
    }
    if (use_p) {
        double total = 0.0;
        for (size_t i = 0; i < n; ++i)
            if (kept(logits, static_cast<int32_t>(i))) total += weights_[i];
        const double target = options_.top_p * total;
        // A growing prefix at a time (selected, then sorted): a nucleus is usually far smaller than
        // the vocabulary. The ranking is total, so the prefix and its running sum are fixed.
        double mass = 0.0;
        size_t sorted = 0;
        size_t chunk = 64;
        while (sorted < m) {
            const size_t end = std::min(m, sorted + chunk);
            const auto first = candidates_.begin() + static_cast<ptrdiff_t>(sorted);
            const auto mid = candidates_.begin() + static_cast<ptrdiff_t>(end);
            if (end < m)
                std::nth_element(first, mid, candidates_.begin() + static_cast<ptrdiff_t>(m),
                                 ranks_before<Candidate>);
            std::sort(first, mid, ranks_before<Candidate>);
            for (; sorted < end; ++sorted) {
                mass += weights_[static_cast<size_t>(candidates_[sorted].id)];
                if (mass >= target) {
                    cutoff_ = candidates_[sorted];
                    has_cutoff_ = true;
                    return argmax;
                }
            }
            chunk *= 2;
        }
        // Rounding kept the whole top-k mass short of p * total: every top-k token is kept.
    }
    return argmax;
}

Result<int32_t> Sampler::sample(std::span<const float> logits) {
    SUTRA_ASSIGN(const int32_t argmax, prepare(logits));
    if (options_.temperature == 0.0) return argmax;
    const auto n = static_cast<int32_t>(logits.size());
    double total = 0.0;
    for (int32_t i = 0; i < n; ++i)
        if (kept(logits, i)) total += weights_[static_cast<size_t>(i)];
    const double target = rng_.uniform() * total;
    double running = 0.0;
    int32_t last = argmax;
    for (int32_t i = 0; i < n; ++i) {
        const double w = weights_[static_cast<size_t>(i)];
        if (w == 0.0 || !kept(logits, i)) continue;
        running += w;
        last = i;
        if (target < running) return i;
    }
    return last;  // u * total rounded up to the full sum: the last kept token
}

Result<std::vector<TokenProbability>> Sampler::distribution(std::span<const float> logits) {
    SUTRA_ASSIGN(const int32_t argmax, prepare(logits));
    if (options_.temperature == 0.0) return std::vector<TokenProbability>{{argmax, 1.0}};
    const auto n = static_cast<int32_t>(logits.size());
    double total = 0.0;
    for (int32_t i = 0; i < n; ++i)
        if (kept(logits, i)) total += weights_[static_cast<size_t>(i)];
    std::vector<TokenProbability> out;
    for (int32_t i = 0; i < n; ++i)
        if (kept(logits, i)) out.push_back({i, weights_[static_cast<size_t>(i)] / total});
    return out;
}

}  // namespace sutra::model
