// The RWKV family behind model::Model: the linears it reports and the tensors they map to,
// and the errors of bad calls (token ids, positions, states, RWKV-7 windows out of order).
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "unit/model/rwkv/rwkv_test_support.hpp"

using namespace sutra;
namespace tr = sutra::test::rwkv;

namespace {

struct Seen {
    int64_t rows = 0;
    int64_t cols = 0;
};

// Every (layer, linear) the observer reports over one window.
std::map<std::pair<int, std::string>, Seen> observe(model::Model& m,
                                                    const std::vector<int32_t>& tokens) {
    std::map<std::pair<int, std::string>, Seen> seen;
    m.set_linear_observer(
        [&](int layer, std::string_view name, const float*, int64_t rows, int64_t cols) {
            seen[{layer, std::string(name)}] = {rows, cols};
        });
    tr::window_logits(m, tokens);
    m.set_linear_observer(nullptr);
    return seen;
}

std::set<std::string> names_of_layer(const std::map<std::pair<int, std::string>, Seen>& seen,
                                     int layer) {
    std::set<std::string> out;
    for (const auto& [key, s] : seen)
        if (key.first == layer) out.insert(key.second);
    return out;
}

}  // namespace

TEST_CASE("rwkv family: linear names, their inputs and their tensors", "[rwkv][shared]") {
    struct Case {
        const char* file;
        std::set<std::string> layer0, layer1;
    };
    const std::set<std::string> v4 = {"att.key", "att.value", "att.receptance", "att.output",
                                      "ffn.key", "ffn.value", "ffn.receptance"};
    const std::set<std::string> hf = {
        "attention.key",    "attention.value",    "attention.receptance",   "attention.output",
        "feed_forward.key", "feed_forward.value", "feed_forward.receptance"};
    std::set<std::string> v5 = v4;
    v5.insert("att.gate");
    std::set<std::string> v6 = v5;
    v6.insert({"att.time_maa_w1", "att.time_decay_w1", "att.time_decay_w2"});
    std::set<std::string> v7 = {"att.key", "att.value", "att.receptance", "att.output",
                                "att.w1",  "att.w2",    "att.a1",         "att.a2",
                                "att.g1",  "att.g2",    "ffn.key",        "ffn.value"};
    std::set<std::string> v7_later = v7;
    v7_later.insert({"att.v1", "att.v2"});
    const Case cases[] = {
        {"tiny-rwkv-4v0-660K.safetensors", v4, v4},       {"tiny-rwkv-4v0-660K-hf", hf, hf},
        {"tiny-rwkv-5v2-730K.safetensors", v5, v5},       {"tiny-rwkv-6v0-1m.safetensors", v6, v6},
        {"tiny-rwkv-7v0-834K.safetensors", v7, v7_later},
    };
    for (const Case& c : cases) {
        SECTION(c.file) {
            const tr::Fixture f = tr::load_fixture(tr::fixtures() / c.file);
            auto m = tr::open_model(f);
            const auto seen = observe(*m, {1, 2, 3});
            CHECK(names_of_layer(seen, 0) == c.layer0);
            CHECK(names_of_layer(seen, 1) == c.layer1);
            CHECK(names_of_layer(seen, -1) == std::set<std::string>{"head"});
            CHECK(m->linear_tensor(-1, "head") == "head.weight");
            for (const auto& [key, s] : seen) {
                INFO(key.first << " " << key.second);
                CHECK(s.rows == 3);
                // The tensor exists and is the [out, in] matrix of that input.
                const std::string t = m->linear_tensor(key.first, key.second);
                REQUIRE(f.weights->has(t));
                const auto shape = f.weights->shape(t);
                REQUIRE(shape.ok());
                REQUIRE(shape->size() == 2);
                CHECK(static_cast<int64_t>((*shape)[1]) == s.cols);
            }
            CHECK(m->linear_tensor(0, "att.nothing").empty());
            CHECK(m->linear_tensor(99, *c.layer0.begin()).empty());
        }
    }
    SECTION("names map to the checkpoint's full names") {
        auto hfm = tr::open_model(tr::load_fixture(tr::fixtures() / "tiny-rwkv-4v0-660K-hf"));
        CHECK(hfm->linear_tensor(3, "feed_forward.value") ==
              "rwkv.blocks.3.feed_forward.value.weight");
        auto m7 =
            tr::open_model(tr::load_fixture(tr::fixtures() / "tiny-rwkv-7v0-834K.safetensors"));
        CHECK(m7->linear_tensor(3, "att.key") == "blocks.3.att.key.weight");
        CHECK(m7->linear_tensor(3, "att.v2") == "blocks.3.att.v2");
        CHECK(m7->linear_tensor(0, "att.v2").empty());  // block 0 has no value residual
    }
}

TEST_CASE("rwkv family: bad calls give clear errors", "[rwkv][shared]") {
    const tr::Fixture f = tr::load_fixture(tr::fixtures() / "tiny-rwkv-5v2-730K.safetensors");
    auto m = tr::open_model(f);
    model::Activations x;
    SECTION("token ids outside the vocabulary") {
        for (int32_t bad : {256, -1}) {
            const std::vector<int32_t> t = {5, bad};
            const Status s = m->embed(t, 0, x);
            REQUIRE_FALSE(s.ok());
            CHECK(s.error().code == Errc::invalid_argument);
            CHECK(s.error().message.find("vocab_size 256") != std::string::npos);
        }
        CHECK_FALSE(model::forward(*m, std::vector<int32_t>{256}).ok());
        CHECK_FALSE(m->embed({}, 0, x).ok());
    }
    SECTION("a continued block at the wrong position") {
        auto state = m->new_state();
        REQUIRE(m->embed(std::vector<int32_t>{1, 2}, 1, x).ok());
        const Status s = m->run_block(0, x, *state);
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code == Errc::invalid_argument);
        CHECK(s.error().message.find("has seen 0 tokens") != std::string::npos);
        CHECK(state->position() == 0);
    }
    SECTION("a window that does not start at 0") {
        REQUIRE(m->embed(std::vector<int32_t>{1, 2}, 4, x).ok());
        CHECK_FALSE(m->run_block(0, std::span<model::Activations>(&x, 1)).ok());
    }
    SECTION("activations of the wrong width, a layer out of range") {
        REQUIRE(m->embed(std::vector<int32_t>{1, 2}, 0, x).ok());
        CHECK_FALSE(m->run_block(12, std::span<model::Activations>(&x, 1)).ok());
        CHECK_FALSE(m->run_block(-1, std::span<model::Activations>(&x, 1)).ok());
        x.cols = 32;
        CHECK_FALSE(m->run_block(0, std::span<model::Activations>(&x, 1)).ok());
        std::vector<float> logits;
        CHECK_FALSE(m->head(x, logits).ok());
    }
    SECTION("a state of another model") {
        auto other =
            tr::open_model(tr::load_fixture(tr::fixtures() / "tiny-rwkv-4v0-660K.safetensors"));
        auto state = other->new_state();
        REQUIRE(m->embed(std::vector<int32_t>{1}, 0, x).ok());
        const Status s = m->run_block(0, x, *state);
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code == Errc::invalid_argument);
    }
}

TEST_CASE("rwkv family: RWKV-7 blocks find block 0's values", "[rwkv][shared]") {
    const tr::Fixture f = tr::load_fixture(tr::fixtures() / "tiny-rwkv-7v0-834K.safetensors");
    auto m = tr::open_model(f);
    const std::vector<int32_t> a = {0x22, 0x69, 0x6e}, b = {7, 8};
    SECTION("windows copied between blocks, in batches layer by layer") {
        std::vector<model::Activations> xs(2);
        REQUIRE(m->embed(a, 0, xs[0]).ok());
        REQUIRE(m->embed(b, 0, xs[1]).ok());
        for (int l = 0; l < 12; ++l) {
            for (auto& x : xs) {
                model::Activations copy = x;  // a new buffer every block
                REQUIRE(m->run_block(l, std::span<model::Activations>(&copy, 1)).ok());
                x = std::move(copy);
            }
        }
        std::vector<float> la, lb;
        REQUIRE(m->head(xs[0], la).ok());
        REQUIRE(m->head(xs[1], lb).ok());
        CHECK(la == tr::window_logits(*m, a));
        CHECK(lb == tr::window_logits(*m, b));
    }
    SECTION("a later block on a window no earlier block produced") {
        model::Activations x;
        REQUIRE(m->embed(a, 0, x).ok());
        const Status s = m->run_block(1, std::span<model::Activations>(&x, 1));
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code == Errc::invalid_argument);
        CHECK(s.error().message.find("block 0") != std::string::npos);
    }
    SECTION("a state whose later blocks lag behind block 0") {
        // Block 0 sees tokens 0..2 in two calls before any later block runs; the later blocks
        // then catch up call by call, and the result is that of the usual order.
        auto state = m->new_state();
        model::Activations first, second;
        REQUIRE(m->embed(std::vector<int32_t>{0x22, 0x69}, 0, first).ok());
        REQUIRE(m->embed(std::vector<int32_t>{0x6e}, 2, second).ok());
        REQUIRE(m->run_block(0, first, *state).ok());
        REQUIRE(m->run_block(0, second, *state).ok());
        for (model::Activations* x : {&first, &second})
            for (int l = 1; l < 12; ++l)
                REQUIRE(m->run_block(l, *x, *state).ok());
        CHECK(state->position() == 3);
        std::vector<float> logits;
        REQUIRE(m->head(second, logits).ok());
        const std::vector<float> want = tr::window_logits(*m, a);
        CHECK(sutra::test::model::max_abs_diff(logits, tr::row_of(want, 2, 256)) < 1e-5);
    }
    SECTION("a state's later block before block 0") {
        auto state = m->new_state();
        model::Activations x;
        REQUIRE(m->embed(a, 0, x).ok());
        const Status s = m->run_block(1, x, *state);
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().message.find("run block 0 on these tokens first") != std::string::npos);
    }
}
