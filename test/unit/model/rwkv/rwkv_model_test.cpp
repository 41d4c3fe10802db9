// The RWKV forward pass against the reference logits of /work/shared/models/tiny-rwkv:
// rwkv.cpp's own logits after the bytes `"in` (RWKV-4, 5.2, 6, 7; the same RWKV-4 in the
// Hugging Face layout), transformers' logits and greedy bytes of random-rwkv4-hf. Each in the
// step-by-step form (a state, one token at a time) and in the whole-window form.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>

#include "unit/model/rwkv/rwkv_test_support.hpp"

using namespace sutra;
using sutra::test::model::max_abs_diff;
namespace tr = sutra::test::rwkv;

namespace {

constexpr double kTolerance = 1e-4;
const std::vector<int32_t> kQuoteIn = {0x22, 0x69, 0x6e};  // "in

struct Case {
    const char* checkpoint;  // file or folder under tiny-rwkv
    const char* expected;    // 256 float32 logits after "in
    const char* variant;
};

}  // namespace

TEST_CASE("rwkv: rwkv.cpp's logits after \"in, step by step and as one window", "[rwkv][shared]") {
    const Case cases[] = {
        {"tiny-rwkv-4v0-660K.safetensors", "expected-logits-4v0-660K.bin", "4"},
        {"tiny-rwkv-4v0-660K-hf", "expected-logits-4v0-660K.bin", "4"},
        {"tiny-rwkv-5v2-730K.safetensors", "expected-logits-5v2-730K.bin", "5.2"},
        {"tiny-rwkv-6v0-1m.safetensors", "expected-logits-6v0-1m.bin", "6"},
        {"tiny-rwkv-7v0-834K.safetensors", "expected-logits-7v0-834K.bin", "7"},
    };
    for (const Case& c : cases) {
        SECTION(c.checkpoint) {
            const tr::Fixture f = tr::load_fixture(tr::fixtures() / c.checkpoint);
            auto m = tr::open_model(f);
            CHECK(m->info().family == "rwkv");
            CHECK(m->info().variant == c.variant);
            CHECK(m->info().bos_id == -1);
            const std::vector<float> want = tr::read_f32(tr::fixtures() / c.expected);
            const size_t V = want.size();
            REQUIRE(static_cast<int64_t>(V) == m->info().vocab_size);

            const std::vector<float> step = tr::step_logits(*m, kQuoteIn);
            const double d_step = max_abs_diff(tr::row_of(step, 2, V), want);
            const std::vector<float> window = tr::window_logits(*m, kQuoteIn);
            const double d_window = max_abs_diff(tr::row_of(window, 2, V), want);
            std::printf("rwkv %-32s step %.3g window %.3g\n", c.checkpoint, d_step, d_window);
            CHECK(d_step < kTolerance);
            CHECK(d_window < kTolerance);
        }
    }
}

TEST_CASE("rwkv: random-rwkv4-hf, all 16 rows of transformers' logits", "[rwkv][shared]") {
    const auto dir = tr::fixtures() / "random-rwkv4-hf";
    const tr::Fixture f = tr::load_fixture(dir);
    auto m = tr::open_model(f);
    const auto expected = nlohmann::json::parse(test::model::read_text(dir / "expected.json"));
    const auto tokens = expected["tokens16"].get<std::vector<int32_t>>();
    const std::vector<float> want = tr::read_f32(dir / "expected_logits_16x256.f32");
    REQUIRE(want.size() == tokens.size() * 256);

    const double d_window = max_abs_diff(tr::window_logits(*m, tokens), want);
    const double d_step = max_abs_diff(tr::step_logits(*m, tokens), want);
    std::printf("rwkv random-rwkv4-hf 16 rows          step %.3g window %.3g\n", d_step, d_window);
    CHECK(d_window < kTolerance);
    CHECK(d_step < kTolerance);
}

TEST_CASE("rwkv: random-rwkv4-hf, transformers' 64 greedy bytes", "[rwkv][shared]") {
    const auto dir = tr::fixtures() / "random-rwkv4-hf";
    const tr::Fixture f = tr::load_fixture(dir);
    auto m = tr::open_model(f);
    const auto expected = nlohmann::json::parse(test::model::read_text(dir / "expected.json"));
    const auto prompt = expected["prompt"].get<std::vector<int32_t>>();
    const auto greedy = expected["greedy64"].get<std::vector<int32_t>>();
    SECTION("greedy, continuing a state") {
        auto state = m->new_state();
        auto l = model::forward(*m, prompt, state.get());
        REQUIRE(l.ok());
        std::vector<int32_t> got;
        for (size_t i = 0; i < greedy.size(); ++i) {
            const auto next = static_cast<int32_t>(
                tr::argmax(std::span<const float>(*l).subspan(l->size() - 256)));
            got.push_back(next);
            l = model::forward(*m, std::span<const int32_t>(&next, 1), state.get());
            REQUIRE(l.ok());
        }
        CHECK(got == greedy);
    }
    SECTION("greedy, every step one whole window") {
        std::vector<int32_t> seq = prompt;
        for (size_t i = 0; i < greedy.size(); ++i) {
            const std::vector<float> l = tr::window_logits(*m, seq);
            seq.push_back(static_cast<int32_t>(
                tr::argmax(std::span<const float>(l).subspan(l.size() - 256))));
        }
        CHECK(std::vector<int32_t>(seq.begin() + 4, seq.end()) == greedy);
    }
}

TEST_CASE("rwkv: 2 tokens then 1 continue a state exactly as one window", "[rwkv][shared]") {
    const char* files[] = {"tiny-rwkv-4v0-660K.safetensors", "random-rwkv4-hf",
                           "tiny-rwkv-5v2-730K.safetensors", "tiny-rwkv-6v0-1m.safetensors",
                           "tiny-rwkv-7v0-834K.safetensors"};
    const std::vector<int32_t> tokens = {84, 104, 101, 32, 113};
    for (const char* file : files) {
        SECTION(file) {
            const tr::Fixture f = tr::load_fixture(tr::fixtures() / file);
            auto m = tr::open_model(f);
            const std::vector<float> window = tr::window_logits(*m, tokens);
            auto state = m->new_state();
            std::vector<float> cont;
            for (auto [from, n] : {std::pair<size_t, size_t>{0, 2}, {2, 1}, {3, 2}}) {
                auto l = model::forward(*m, std::span<const int32_t>(tokens.data() + from, n),
                                        state.get());
                INFO((l.ok() ? "" : l.error().message));
                REQUIRE(l.ok());
                cont.insert(cont.end(), l->begin(), l->end());
            }
            CHECK(state->position() == 5);
            CHECK(max_abs_diff(cont, window) < 1e-5);
        }
    }
}

TEST_CASE("rwkv: weights streamed block by block equal kept weights", "[rwkv][shared]") {
    for (const char* file : {"tiny-rwkv-4v0-660K-hf", "tiny-rwkv-7v0-834K.safetensors"}) {
        SECTION(file) {
            const tr::Fixture f = tr::load_fixture(tr::fixtures() / file);
            auto kept = tr::open_model(f, true);
            auto streamed = tr::open_model(f, false);
            const std::vector<int32_t> tokens = {1, 200, 3, 3, 77};
            CHECK(tr::window_logits(*kept, tokens) == tr::window_logits(*streamed, tokens));
            kept->release_weights();
            CHECK(tr::step_logits(*kept, tokens) == tr::step_logits(*streamed, tokens));
        }
    }
}

TEST_CASE("rwkv: unconverted BlinkDL time_decay (v4 [1, 1, C] mixes, v5.2 [H, S]) is converted",
          "[rwkv][shared]") {
    SECTION("v4: time_mix [1, 1, C], time_decay raw") {
        const tr::Fixture f = tr::load_fixture(tr::fixtures() / "tiny-rwkv-4v0-660K.safetensors");
        auto w = tr::to_map(f);
        for (int l = 0; l < 4; ++l) {
            const std::string p = "blocks." + std::to_string(l) + ".";
            for (const char* mix : {"att.time_mix_k", "att.time_mix_v", "att.time_mix_r",
                                    "ffn.time_mix_k", "ffn.time_mix_r"}) {
                w.put(p + mix, {1, 1, 128}, w.data(p + mix));
            }
            for (float& d : w.data(p + "att.time_decay"))
                d = std::log(-d);  // back to the raw value rwkv.cpp's converter negates
        }
        auto m = model::rwkv::open(nullptr, w, {true});
        REQUIRE(m.ok());
        const std::vector<float> step = tr::step_logits(**m, kQuoteIn);
        const auto want = tr::read_f32(tr::fixtures() / "expected-logits-4v0-660K.bin");
        CHECK(max_abs_diff(tr::row_of(step, 2, 256), want) < kTolerance);
    }
    SECTION("v5.2: time_decay and time_faaaa [H, S], time_decay raw") {
        const tr::Fixture f = tr::load_fixture(tr::fixtures() / "tiny-rwkv-5v2-730K.safetensors");
        auto w = tr::to_map(f);
        for (int l = 0; l < 12; ++l) {
            const std::string p = "blocks." + std::to_string(l) + ".att.";
            for (const char* mix : {"time_mix_k", "time_mix_v", "time_mix_r", "time_mix_g"})
                w.put(p + mix, {1, 1, 64}, w.data(p + mix));
            w.put("blocks." + std::to_string(l) + ".ffn.time_mix_k", {1, 1, 64},
                  w.data("blocks." + std::to_string(l) + ".ffn.time_mix_k"));
            w.put("blocks." + std::to_string(l) + ".ffn.time_mix_r", {1, 1, 64},
                  w.data("blocks." + std::to_string(l) + ".ffn.time_mix_r"));
            std::vector<float> d = w.data(p + "time_decay");
            for (float& x : d)
                x = std::log(-std::log(x));
            w.put(p + "time_decay", {8, 8}, d);
            w.put(p + "time_faaaa", {8, 8}, w.data(p + "time_faaaa"));
        }
        auto m = model::rwkv::open(nullptr, w, {true});
        INFO((m.ok() ? "" : m.error().message));
        REQUIRE(m.ok());
        const std::vector<float> step = tr::step_logits(**m, kQuoteIn);
        const auto want = tr::read_f32(tr::fixtures() / "expected-logits-5v2-730K.bin");
        CHECK(max_abs_diff(tr::row_of(step, 2, 256), want) < kTolerance);
    }
}

TEST_CASE("rwkv: Hugging Face rescale_every is neutral but for LayerNorm's epsilon",
          "[rwkv][shared]") {
    // transformers at inference: attention.output and feed_forward.value of block b divided by
    // 2^(b / R), the stream halved after every R-th block. LayerNorm cancels the scale, so
    // with a tiny epsilon the logits stay those of R = 0 (ln_out keeps transformers' 1e-5);
    // an implementation that got either half wrong would move them by far more.
    const tr::Fixture f = tr::load_fixture(tr::fixtures() / "random-rwkv4-hf");
    REQUIRE(f.config);
    const std::vector<int32_t> tokens = {84, 104, 101, 32, 113, 117};
    auto logits_with = [&](int rescale) {
        nlohmann::json c = *f.config;
        c["rescale_every"] = rescale;
        c["layer_norm_epsilon"] = 1e-12;
        auto m = model::rwkv::open(&c, *f.weights, {true});
        REQUIRE(m.ok());
        return std::make_pair(tr::window_logits(**m, tokens), tr::step_logits(**m, tokens));
    };
    const auto plain = logits_with(0);
    for (int r : {1, 2, 3}) {
        const auto scaled = logits_with(r);
        const double d = max_abs_diff(scaled.first, plain.first);
        std::printf("rwkv random-rwkv4-hf rescale_every %d: logits move by %.3g\n", r, d);
        CHECK(d > 0.0);
        CHECK(d < 1e-2);
        CHECK(max_abs_diff(scaled.second, scaled.first) < 1e-5);
    }
}
