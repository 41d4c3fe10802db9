// The block view of the RWKV family (what AWQ uses): load_block / run_block_with reproduce
// run_block, every linear's weight is in the block's tensors, and scaling each group's input
// channels by s (W -> W diag(s), 1/s folded as the group says) leaves the block's output and
// its loss module's output unchanged.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "unit/model/rwkv/rwkv_test_support.hpp"

using namespace sutra;
namespace tr = sutra::test::rwkv;

namespace {

double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
    return sutra::test::model::max_abs_diff(a, b) / std::max(1.0, sutra::test::model::max_abs(a));
}

// w with group g's linears scaled by s and 1/s folded (model/family.hpp's ScaleGroup).
model::BlockTensors apply_group(const model::Model& m, model::BlockTensors w,
                                const model::ScaleGroup& g, const std::vector<float>& s) {
    const auto linears = m.block_linears(w.layer);
    for (const std::string& l : g.linears) {
        std::vector<float>* t = w.find(l + ".weight");
        REQUIRE(t);
        const size_t in = s.size();
        REQUIRE(t->size() % in == 0);
        for (size_t i = 0; i < t->size(); ++i)
            (*t)[i] *= s[i % in];
    }
    for (const std::string& name : g.fold_tensors) {
        std::vector<float>* t = w.find(name);
        INFO(name);
        REQUIRE(t);
        size_t cols = 1;
        for (const auto& l : linears)
            if (name == l.name + ".weight") cols = static_cast<size_t>(l.in);
        if (g.fold == model::ScaleGroup::Fold::vector) REQUIRE(t->size() == s.size());
        for (size_t c = 0; c < s.size(); ++c) {
            const float f = g.fold == model::ScaleGroup::Fold::rows_sqrt ? std::sqrt(s[c]) : s[c];
            for (size_t k = 0; k < cols; ++k)
                (*t)[(static_cast<size_t>(g.fold_row_offset) + c) * cols + k] /= f;
        }
    }
    return w;
}

}  // namespace

TEST_CASE("rwkv block view: run_block_with, block tensors, exact scale-group folds",
          "[rwkv][shared]") {
    const char* files[] = {"tiny-rwkv-4v0-660K.safetensors", "random-rwkv4-hf",
                           "tiny-rwkv-5v2-730K.safetensors", "tiny-rwkv-6v0-1m.safetensors",
                           "tiny-rwkv-7v0-834K.safetensors"};
    const std::vector<int32_t> tokens = {84, 104, 101, 32, 113, 117, 105, 99};
    for (const char* file : files) {
        SECTION(file) {
            const tr::Fixture f = tr::load_fixture(tr::fixtures() / file);
            auto m = tr::open_model(f);
            model::Activations x;
            REQUIRE(m->embed(tokens, 0, x).ok());
            std::mt19937 rng(11);
            std::uniform_real_distribution<float> scale(0.5f, 2.0f);
            for (int layer = 0; layer < 2; ++layer) {
                INFO("layer " << layer);
                auto w = m->load_block(layer);
                INFO((w.ok() ? "" : w.error().message));
                REQUIRE(w.ok());
                for (const auto& [key, v] : w->tensors) {
                    const std::string full = m->block_tensor(layer, key);
                    INFO(key);
                    REQUIRE(f.weights->has(full));
                }
                for (const auto& l : m->block_linears(layer)) {
                    const std::vector<float>* t = w->find(l.name + ".weight");
                    REQUIRE(t);
                    CHECK(static_cast<int64_t>(t->size()) == l.out * l.in);
                    CHECK(m->block_tensor(layer, l.name + ".weight") ==
                          m->linear_tensor(layer, l.name));
                }
                model::Activations ref = x, with = x;
                REQUIRE(m->run_block(layer, std::span<model::Activations>(&ref, 1)).ok());
                REQUIRE(m->run_block_with(*w, std::span<model::Activations>(&with, 1)).ok());
                CHECK(with.data == ref.data);

                for (const model::ScaleGroup& g : m->scale_groups(layer)) {
                    INFO("group " << g.name);
                    int64_t width = -1;
                    for (const auto& l : m->block_linears(layer)) {
                        for (const std::string& gl : g.linears) {
                            if (gl != l.name) continue;
                            if (width < 0) width = l.in;
                            CHECK(l.in == width);
                        }
                    }
                    REQUIRE(width > 0);
                    std::vector<float> s(static_cast<size_t>(width));
                    for (float& v : s)
                        v = scale(rng);
                    const model::BlockTensors t = apply_group(*m, *w, g, s);
                    model::Activations y = x;
                    REQUIRE(m->run_block_with(t, std::span<model::Activations>(&y, 1)).ok());
                    CHECK(rel_diff(y.data, ref.data) < 1e-5);
                    if (!g.loss_module.empty()) {
                        std::vector<float> a, b;
                        REQUIRE(m->run_module(*w, g.loss_module, x, a).ok());
                        REQUIRE(m->run_module(t, g.loss_module, x, b).ok());
                        CHECK(rel_diff(b, a) < 1e-5);
                    }
                }
                x = std::move(ref);
            }
            std::vector<float> out;
            CHECK_FALSE(m->run_module(*m->load_block(0), "mlp", x, out).ok());
        }
    }
}
