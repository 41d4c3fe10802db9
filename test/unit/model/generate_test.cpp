#include "sutra/model/generate.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

using sutra::Errc;
using sutra::Status;
using sutra::model::Activations;
using sutra::model::GenerateOptions;
using sutra::model::GenerateResult;
using sutra::model::Model;
using sutra::model::ModelInfo;
using sutra::model::SequenceState;

namespace {

// A model whose residual row is (token, position) and whose logits depend on the last token
// and its position only: in `peaked` mode token next(t, pos) = (3 t + pos + 1) mod V gets
// logit 4, the others 0 (so T = 1 is a real distribution, greedy is next()); in flat mode
// every logit is 0. Its state counts the tokens each layer has seen, and every call is
// checked against the interface's contract and recorded.
class FakeState final : public SequenceState {
  public:
    explicit FakeState(int layers) : seen(static_cast<size_t>(layers), 0) {}
    int64_t position() const override { return seen.empty() ? 0 : seen.back(); }
    std::vector<int64_t> seen;
};

class FakeModel final : public Model {
  public:
    explicit FakeModel(int32_t vocab = 16, int layers = 2, int32_t bos = 1,
                       std::vector<int32_t> eos = {}) {
        info_.family = "fake";
        info_.hidden_size = 2;
        info_.num_layers = layers;
        info_.vocab_size = vocab;
        info_.bos_id = bos;
        info_.eos_ids = std::move(eos);
    }

    static int32_t next(int32_t token, int64_t position, int32_t vocab) {
        return static_cast<int32_t>((3 * static_cast<int64_t>(token) + position + 1) % vocab);
    }

    const ModelInfo& info() const override { return info_; }
    void set_linear_observer(sutra::model::LinearObserver) override {}
    std::string linear_tensor(int, std::string_view) const override { return {}; }
    std::unique_ptr<SequenceState> new_state() const override {
        return std::make_unique<FakeState>(static_cast<int>(info_.num_layers));
    }

    Status embed(std::span<const int32_t> tokens, int64_t first_position, Activations& x) override {
        for (int32_t t : tokens)
            if (t < 0 || t >= info_.vocab_size)
                return sutra::make_error(Errc::invalid_argument, "fake embed: bad id");
        x.rows = static_cast<int64_t>(tokens.size());
        x.cols = 2;
        x.first_position = first_position;
        x.data.clear();
        for (size_t i = 0; i < tokens.size(); ++i) {
            x.data.push_back(static_cast<float>(tokens[i]));
            x.data.push_back(static_cast<float>(first_position + static_cast<int64_t>(i)));
        }
        embedded.push_back(static_cast<int64_t>(tokens.size()));
        return {};
    }
    Status run_block(int, std::span<Activations>) override {
        return sutra::make_error(Errc::unsupported, "fake: windows not used by generate");
    }
    Status run_block(int layer, Activations& x, SequenceState& state) override {
        auto& s = dynamic_cast<FakeState&>(state);
        auto& seen = s.seen.at(static_cast<size_t>(layer));
        if (x.first_position != seen)
            return sutra::make_error(Errc::invalid_argument, "fake run_block: wrong position");
        seen += x.rows;
        block_rows.push_back(x.rows);
        return {};
    }
    Status head(const Activations& x, std::vector<float>& logits) override {
        head_rows.push_back(x.rows);
        const auto v = static_cast<size_t>(info_.vocab_size);
        logits.assign(static_cast<size_t>(x.rows) * v, 0.0f);
        for (int64_t r = 0; r < x.rows; ++r) {
            const auto token = static_cast<int32_t>(x.data[static_cast<size_t>(2 * r)]);
            const auto pos = static_cast<int64_t>(x.data[static_cast<size_t>(2 * r + 1)]);
            if (pos != x.first_position + r) position_mismatch = true;
            if (peaked)
                logits[static_cast<size_t>(r) * v +
                       static_cast<size_t>(next(token, pos, info_.vocab_size))] = 4.0f;
        }
        return {};
    }
    void release_weights() override {}

    bool peaked = true;
    bool position_mismatch = false;
    std::vector<int64_t> embedded;    // tokens per embed call
    std::vector<int64_t> block_rows;  // rows per run_block call
    std::vector<int64_t> head_rows;   // rows per head call

  private:
    ModelInfo info_;
};

// The greedy continuation of `prompt` computed from the fake's rule.
std::vector<int32_t> greedy_path(const std::vector<int32_t>& prompt, int n, int32_t vocab) {
    std::vector<int32_t> out;
    int32_t last = prompt.back();
    auto pos = static_cast<int64_t>(prompt.size()) - 1;
    for (int i = 0; i < n; ++i) {
        last = FakeModel::next(last, pos, vocab);
        out.push_back(last);
        ++pos;
    }
    return out;
}

GenerateOptions gen_opts(int64_t max_tokens, double temperature = 0.0, uint64_t seed = 0,
                         int64_t top_k = 0, double top_p = 1.0) {
    GenerateOptions o;
    o.max_tokens = max_tokens;
    o.sampler.temperature = temperature;
    o.sampler.seed = seed;
    o.sampler.top_k = top_k;
    o.sampler.top_p = top_p;
    return o;
}

}  // namespace

TEST_CASE("greedy generation follows the model, the prompt in one call per block", "[generate]") {
    FakeModel m;
    const std::vector<int32_t> prompt = {2, 5, 7};
    auto r = sutra::model::generate(m, prompt, gen_opts(6));
    REQUIRE(r.ok());
    const auto want = greedy_path(prompt, 6, 16);
    CHECK(want == std::vector<int32_t>{8, 12, 9, 1, 10, 6});  // (3*7 + 2 + 1) % 16 = 8, ...
    CHECK(r->ids == want);
    CHECK_FALSE(r->stopped_at_eos);
    CHECK_FALSE(r->added_bos);
    CHECK(r->prompt_tokens == 3);
    CHECK(r->decode_steps == 5);  // the last id is not fed back
    // The prompt: one embed of 3, one call of 3 rows per block, head on its last row only.
    CHECK(m.embedded == std::vector<int64_t>{3, 1, 1, 1, 1, 1});
    REQUIRE(m.block_rows.size() == 12);
    CHECK(m.block_rows[0] == 3);
    CHECK(m.block_rows[1] == 3);
    for (size_t i = 2; i < m.block_rows.size(); ++i)
        CHECK(m.block_rows[i] == 1);
    CHECK(m.head_rows == std::vector<int64_t>(6, 1));
    CHECK_FALSE(m.position_mismatch);
    CHECK(r->prompt_seconds >= 0.0);
    CHECK(r->generate_seconds >= 0.0);
    CHECK(r->prompt_tokens_per_second() >= 0.0);
    CHECK(r->generate_tokens_per_second() >= 0.0);
}

TEST_CASE("generation stops at an EOS, which is kept", "[generate]") {
    const std::vector<int32_t> prompt = {2, 5, 7};
    const auto path = greedy_path(prompt, 6, 16);  // 8 12 9 1 10 6
    FakeModel m(16, 2, 1, {4, path[3]});
    auto r = sutra::model::generate(m, prompt, gen_opts(100));
    REQUIRE(r.ok());
    CHECK(r->ids == std::vector<int32_t>(path.begin(), path.begin() + 4));
    CHECK(r->stopped_at_eos);
    CHECK(r->decode_steps == 3);
}

TEST_CASE("max_tokens bounds the ids", "[generate]") {
    const std::vector<int32_t> prompt = {3};
    FakeModel m;
    auto r1 = sutra::model::generate(m, prompt, gen_opts(1));
    REQUIRE(r1.ok());
    CHECK(r1->ids == greedy_path(prompt, 1, 16));
    CHECK(r1->decode_steps == 0);
    CHECK(r1->generate_tokens_per_second() == 0.0);

    FakeModel m0;
    auto r0 = sutra::model::generate(m0, prompt, gen_opts(0));
    REQUIRE(r0.ok());
    CHECK(r0->ids.empty());
    CHECK(m0.head_rows.size() == 1);  // the prompt ran
    CHECK(r0->prompt_tokens == 1);

    FakeModel m40(16, 3);
    auto r40 = sutra::model::generate(m40, prompt, gen_opts(40));
    REQUIRE(r40.ok());
    CHECK(r40->ids == greedy_path(prompt, 40, 16));
    CHECK(m40.block_rows.size() == 3 * 40);
}

TEST_CASE("the callback streams each id in order and can interrupt", "[generate]") {
    const std::vector<int32_t> prompt = {2, 5, 7};
    FakeModel m;
    std::vector<int32_t> streamed;
    auto r = sutra::model::generate(m, prompt, gen_opts(6), [&](int32_t id) {
        // Called as soon as the id exists: no step past it has run yet.
        CHECK(m.head_rows.size() == streamed.size() + 1);
        streamed.push_back(id);
        return true;
    });
    REQUIRE(r.ok());
    CHECK(streamed == r->ids);

    // The EOS is streamed too.
    const auto path = greedy_path(prompt, 6, 16);
    FakeModel me(16, 2, 1, {path[1]});
    streamed.clear();
    auto re = sutra::model::generate(me, prompt, gen_opts(6), [&](int32_t id) {
        streamed.push_back(id);
        return true;
    });
    REQUIRE(re.ok());
    CHECK(streamed == std::vector<int32_t>{path[0], path[1]});

    // false on the third id: interrupted, no further step.
    FakeModel mi;
    streamed.clear();
    auto ri = sutra::model::generate(mi, prompt, gen_opts(6), [&](int32_t id) {
        streamed.push_back(id);
        return streamed.size() < 3;
    });
    REQUIRE_FALSE(ri.ok());
    CHECK(ri.error().code == Errc::interrupted);
    CHECK(streamed == std::vector<int32_t>(path.begin(), path.begin() + 3));
    CHECK(mi.head_rows.size() == 3);
}

TEST_CASE("seeded sampling is reproducible and depends on the seed", "[generate]") {
    const std::vector<int32_t> prompt = {1, 2};
    auto run = [&](uint64_t seed, bool peaked) {
        FakeModel m(16);
        m.peaked = peaked;
        auto r = sutra::model::generate(m, prompt, gen_opts(48, 1.0, seed));
        REQUIRE(r.ok());
        return r->ids;
    };
    CHECK(run(42, false) == run(42, false));
    CHECK(run(42, true) == run(42, true));
    // 48 draws from 16 equal tokens: two seeds agree with probability 16^-48.
    CHECK(run(42, false) != run(43, false));
    CHECK(run(0, false) != run(1, false));
    // At T = 1 the peaked model's next() has probability e^4 / (e^4 + 15) = 0.78: the sampled
    // path leaves the greedy one (all 48 greedy has probability 0.78^48 < 1e-5).
    CHECK(run(42, true) != greedy_path(prompt, 48, 16));
}

TEST_CASE("top-k 1 and a tiny top-p generate the greedy path", "[generate]") {
    const std::vector<int32_t> prompt = {4, 9, 1};
    const auto want = greedy_path(prompt, 20, 16);
    for (uint64_t seed : {0ULL, 7ULL, 42ULL}) {
        FakeModel mk;
        auto rk = sutra::model::generate(mk, prompt, gen_opts(20, 1.3, seed, 1));
        REQUIRE(rk.ok());
        CHECK(rk->ids == want);
        FakeModel mp;
        auto rp = sutra::model::generate(mp, prompt, gen_opts(20, 1.3, seed, 0, 1e-6));
        REQUIRE(rp.ok());
        CHECK(rp->ids == want);
    }
}

TEST_CASE("an empty prompt starts from the BOS, or needs one", "[generate]") {
    FakeModel m(16, 2, 5);
    auto r = sutra::model::generate(m, {}, gen_opts(4));
    REQUIRE(r.ok());
    CHECK(r->added_bos);
    CHECK(r->prompt_tokens == 1);
    CHECK(r->ids == greedy_path({5}, 4, 16));

    FakeModel none(16, 2, -1);
    auto e = sutra::model::generate(none, {}, gen_opts(4));
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().code == Errc::invalid_argument);
    CHECK(e.error().message.find("BOS") != std::string::npos);
    CHECK(e.error().message.find("--prompt") != std::string::npos);
}

TEST_CASE("bad prompts and options are refused before the model runs", "[generate]") {
    FakeModel m;
    auto big = sutra::model::generate(m, std::vector<int32_t>{1, 2, 16}, gen_opts(4));
    REQUIRE_FALSE(big.ok());
    CHECK(big.error().code == Errc::invalid_argument);
    CHECK(big.error().message.find("prompt token 2") != std::string::npos);
    auto neg = sutra::model::generate(m, std::vector<int32_t>{-1}, gen_opts(4));
    REQUIRE_FALSE(neg.ok());
    CHECK(neg.error().message.find("prompt token 0") != std::string::npos);

    const std::vector<int32_t> prompt = {1};
    auto t = sutra::model::generate(m, prompt, gen_opts(4, -1.0));
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().message.find("--temperature") != std::string::npos);
    auto p = sutra::model::generate(m, prompt, gen_opts(4, 1.0, 0, 0, 0.0));
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().message.find("--top-p") != std::string::npos);
    auto k = sutra::model::generate(m, prompt, gen_opts(4, 1.0, 0, -2));
    REQUIRE_FALSE(k.ok());
    CHECK(k.error().message.find("--top-k") != std::string::npos);
    auto n = sutra::model::generate(m, prompt, gen_opts(-1));
    REQUIRE_FALSE(n.ok());
    CHECK(n.error().code == Errc::invalid_argument);
    CHECK(n.error().message.find("--max-tokens") != std::string::npos);
    CHECK(m.embedded.empty());
}
