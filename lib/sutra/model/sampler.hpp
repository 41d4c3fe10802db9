#pragma once
// Next-token choice from one row of logits, reproducible bit for bit on every machine.
//
// temperature T = 0: greedy, the argmax (the lowest id among equal maxima); no random draw.
// T > 0: weights w_i = exp((l_i - max_j l_j) / T) in double, then two filters on the ranking
// "higher logit first, lower id first among equal logits" (a total order):
//   - top-k (k > 0): keep the k first tokens of the ranking;
//   - top-p (p < 1): of those, keep the shortest prefix of the ranking whose mass reaches p,
//     sum_{kept} w_i >= p * sum_{top-k} w_i (the mass accumulated in ranking order).
// The kept tokens have probability w_i / sum_{kept} w_j. One draw u in [0, 1) (53 bits of
// xoshiro256**, seeded from splitmix64(seed)) picks the first kept token in id order whose
// running weight sum exceeds u * sum_{kept} w_j (inverse CDF, accumulated in double).
//
// Nothing here depends on the standard library's random engines, distributions or sort
// order: the generator is written out below, every sum runs in id order or ranking order, and
// the ranking is total. The only library function used on the numbers is std::exp, correctly
// rounded or within an ulp of it on every libm; a one-ulp difference changes a draw only when
// u lands within ~1e-16 of a boundary.
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "sutra/base/error.hpp"

namespace sutra::model {

struct SamplerOptions {
    double temperature = 0.0;  // --temperature: 0 = greedy
    int64_t top_k = 0;         // --top-k: 0 = off
    double top_p = 1.0;        // --top-p: 1 = off
    uint64_t seed = 0;         // --seed
};

// invalid_argument naming the flag: temperature finite and >= 0, top_p in (0, 1], top_k >= 0.
Status validate_sampler_options(const SamplerOptions& options);

// splitmix64 (Steele, Lea and Flood): advances `state` by 0x9e3779b97f4a7c15 and returns it
// mixed.
uint64_t splitmix64(uint64_t& state);

// xoshiro256** (Blackman and Vigna), its state filled by four splitmix64 outputs of the seed.
class Rng {
  public:
    explicit Rng(uint64_t seed);
    // A given state (not all zero), for known-answer tests.
    explicit Rng(const std::array<uint64_t, 4>& state);
    uint64_t next();
    // (next() >> 11) * 2^-53: uniform in [0, 1) on a grid of 2^-53.
    double uniform();

  private:
    std::array<uint64_t, 4> s_;
};

struct TokenProbability {
    int32_t id = 0;
    double probability = 0.0;
};

class Sampler {
  public:
    // Validates the options (validate_sampler_options).
    static Result<Sampler> create(const SamplerOptions& options);

    // The next token of `logits` (one row, vocabulary size entries). invalid_argument when the
    // row is empty, longer than int32 ids reach, holds a NaN or +inf, or is all -inf. One
    // random draw per call when temperature > 0, none when it is 0.
    Result<int32_t> sample(std::span<const float> logits);

    // The distribution sample() draws from: the kept tokens in id order with their
    // probabilities (temperature 0: the argmax with probability 1). No random draw.
    Result<std::vector<TokenProbability>> distribution(std::span<const float> logits);

    const SamplerOptions& options() const { return options_; }

  private:
    explicit Sampler(const SamplerOptions& options) : options_(options), rng_(options.seed) {}

    struct Candidate {
        float logit;
        int32_t id;
    };
    // Fills weights_ and decides the kept set: kept(i) is true for tokens ranking at or above
    // cutoff_ (all tokens when has_cutoff_ is false). Returns the argmax for temperature 0.
    Result<int32_t> prepare(std::span<const float> logits);
    bool kept(std::span<const float> logits, int32_t id) const;

    SamplerOptions options_;
    Rng rng_;
    std::vector<double> weights_;
    std::vector<Candidate> candidates_;
    bool has_cutoff_ = false;
    Candidate cutoff_{0.0f, 0};
};

}  // namespace sutra::model
