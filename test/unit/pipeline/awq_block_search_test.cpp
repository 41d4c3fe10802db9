// AWQ's block search at the size of real models: the loss windows a token budget picks, the
// fast (coarse-to-fine) alpha search against the full grid, the trace that also advances the
// activations (run_block's bytes), and results that do not depend on the thread count.
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "support/paths.hpp"
#include "sutra/calib/collect.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/llama/llama.hpp"
#include "sutra/model/llama/llama_config.hpp"
#include "sutra/pipeline/awq_block.hpp"
#include "sutra/pipeline/awq_layers.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"
#include "unit/model/model_test_support.hpp"

using namespace sutra;
namespace tmodel = sutra::test::model;

namespace {

// A tiny model without GQA (so the o group is searched too), calibration statistics on 12
// windows of 16 tokens, and the windows embedded.
struct Fixture {
    model::LlamaConfig c;
    tmodel::MapWeights weights;
    std::optional<model::Llama> m;
    calib::CalibrationData stats;
    std::vector<model::Activations> xs;
    pipeline::BlockQuant bq;

    Fixture() {
        c = tmodel::tiny_config();
        c.num_key_value_heads = c.num_attention_heads;
        weights = tmodel::tiny_weights(c, 21);
        auto made = model::Llama::create(c, weights);
        REQUIRE(made.ok());
        m.emplace(std::move(*made));
        std::vector<int32_t> ids;
        for (int i = 0; i < 12 * 15; ++i)
            ids.push_back((i * 17 + 3) % 40);
        auto s = calib::collect_stats(*m, ids, 16, 0);
        REQUIRE(s.ok());
        REQUIRE(s->windows == 12);
        stats = std::move(*s);
        for (auto win : calib::windows_of(stats)) {
            model::Activations x;
            REQUIRE(m->embed(win, 0, x).ok());
            xs.push_back(std::move(x));
        }
        const int64_t H = c.hidden_size, QW = c.q_width(), KV = c.kv_width(),
                      I = c.intermediate_size;
        const int64_t shapes[7][2] = {{QW, H}, {KV, H}, {KV, H}, {H, QW}, {I, H}, {I, H}, {H, I}};
        for (size_t k = 0; k < 7; ++k) {
            bq.quantize[k] = true;
            bq.layout[k] = quant::make_layout(static_cast<uint64_t>(shapes[k][0]),
                                              static_cast<uint64_t>(shapes[k][1]), 3, 8);
        }
    }

    std::array<std::vector<float>, 4> x_mean(int layer) const {
        const char* inputs[4] = {"self_attn.q_proj", "self_attn.o_proj", "mlp.gate_proj",
                                 "mlp.down_proj"};
        std::array<std::vector<float>, 4> x;
        for (size_t g = 0; g < 4; ++g)
            x[g] = stats.linears.at(calib::linear_key(layer, inputs[g])).mean_abs;
        return x;
    }
};

void check_same(const pipeline::AwqBlockResult& a, const pipeline::AwqBlockResult& b) {
    CHECK(a.weights.q == b.weights.q);
    CHECK(a.weights.k == b.weights.k);
    CHECK(a.weights.v == b.weights.v);
    CHECK(a.weights.o == b.weights.o);
    CHECK(a.weights.gate == b.weights.gate);
    CHECK(a.weights.up == b.weights.up);
    CHECK(a.weights.down == b.weights.down);
    CHECK(a.weights.input_norm == b.weights.input_norm);
    CHECK(a.weights.post_norm == b.weights.post_norm);
    REQUIRE(a.groups.size() == b.groups.size());
    for (size_t g = 0; g < a.groups.size(); ++g) {
        INFO("group " << a.groups[g].group);
        CHECK(a.groups[g].best_alpha == b.groups[g].best_alpha);
        CHECK(a.groups[g].loss_best == b.groups[g].loss_best);
        CHECK(a.groups[g].loss_plain == b.groups[g].loss_plain);
        CHECK(a.groups[g].alphas_evaluated == b.groups[g].alphas_evaluated);
    }
}

}  // namespace

TEST_CASE("awq loss windows: a token budget picks evenly spaced whole windows", "[awq][pipeline]") {
    const std::vector<int64_t> w64(64, 256);
    CHECK(pipeline::awq_loss_windows(w64, 0).size() == 64);
    CHECK(pipeline::awq_loss_windows(w64, 16384).size() == 64);
    CHECK(pipeline::awq_loss_windows(w64, 1u << 30).size() == 64);
    const auto k16 = pipeline::awq_loss_windows(w64, 4096);
    REQUIRE(k16.size() == 16);
    for (size_t i = 0; i < 16; ++i)
        CHECK(k16[i] == 4 * i);
    CHECK(pipeline::awq_loss_windows(w64, 4097).size() == 17);  // whole windows: rounded up
    CHECK(pipeline::awq_loss_windows(w64, 1) == std::vector<size_t>{0});
    // Applied to its own windows, it keeps them all (the stream selects, awq_block reselects).
    for (const uint64_t budget : {1u, 300u, 4096u, 5000u, 16000u}) {
        const auto pick = pipeline::awq_loss_windows(w64, budget);
        const std::vector<int64_t> picked(pick.size(), 256);
        CHECK(pipeline::awq_loss_windows(picked, budget).size() == pick.size());
    }
    // Unequal windows: the count follows the mean length.
    const std::vector<int64_t> mixed = {10, 30, 10, 30};  // 80 tokens, 20 per window
    CHECK(pipeline::awq_loss_windows(mixed, 40) == std::vector<size_t>{0, 2});
    CHECK(pipeline::awq_loss_windows({}, 100).empty());
}

TEST_CASE("awq block: the same result on every thread count, grid and fast search alike",
          "[awq][pipeline]") {
    Fixture f;
    auto fp = f.m->block_weights(0);
    REQUIRE(fp.ok());
    for (const auto search : {pipeline::AwqSearch::grid, pipeline::AwqSearch::fast}) {
        for (const uint64_t budget : {uint64_t{0}, uint64_t{64}}) {
            INFO("search " << (search == pipeline::AwqSearch::grid ? "grid" : "fast")
                           << " loss tokens " << budget);
            pipeline::AwqOptions opt;
            opt.search = search;
            opt.loss_tokens = budget;
            auto one = pipeline::awq_block(*f.m, **fp, f.xs, f.x_mean(0), f.bq, opt);
            REQUIRE(one.ok());
            for (const unsigned threads : {2u, 3u, 8u}) {
                opt.threads = threads;
                auto many = pipeline::awq_block(*f.m, **fp, f.xs, f.x_mean(0), f.bq, opt);
                REQUIRE(many.ok());
                check_same(*one, *many);
            }
        }
    }
}

TEST_CASE("awq block: the fast search evaluates fewer alphas, with the grid's losses",
          "[awq][pipeline]") {
    Fixture f;
    int groups = 0, same_alpha = 0;
    for (int layer = 0; layer < f.c.num_hidden_layers; ++layer) {
        auto fp = f.m->block_weights(layer);
        REQUIRE(fp.ok());
        pipeline::AwqOptions grid, fast;
        grid.search = pipeline::AwqSearch::grid;
        fast.search = pipeline::AwqSearch::fast;
        auto g = pipeline::awq_block(*f.m, **fp, f.xs, f.x_mean(layer), f.bq, grid);
        auto q = pipeline::awq_block(*f.m, **fp, f.xs, f.x_mean(layer), f.bq, fast);
        REQUIRE(g.ok());
        REQUIRE(q.ok());
        for (size_t k = 0; k < g->groups.size(); ++k) {
            const auto& a = g->groups[k];
            const auto& b = q->groups[k];
            INFO("layer " << layer << " group " << a.group);
            REQUIRE(a.searched);  // no GQA: o too
            REQUIRE(b.searched);
            CHECK(a.alphas_evaluated == 20);
            CHECK(b.alphas_evaluated <= 9);
            REQUIRE(a.losses.size() == 20);
            REQUIRE(b.losses.size() == 20);
            // Each alpha's loss is the same whichever search asks for it; the fast search's
            // pick is the least of those it saw, never better than the grid's.
            int seen = 0;
            for (size_t i = 0; i < 20; ++i) {
                if (std::isnan(b.losses[i])) continue;
                ++seen;
                CHECK(b.losses[i] == a.losses[i]);
                CHECK(b.loss_best <= b.losses[i]);
            }
            CHECK(seen == b.alphas_evaluated);
            CHECK(b.loss_best >= a.loss_best);
            CHECK(b.loss_plain == a.loss_plain);
            ++groups;
            same_alpha += a.best_alpha == b.best_alpha ? 1 : 0;
        }
        // The next layer's search runs on this layer's full-precision outputs.
        for (auto& x : f.xs)
            REQUIRE(f.m->run_block(**fp, x).ok());
    }
    CHECK(groups == 8);
    INFO("same alpha in " << same_alpha << " of " << groups << " groups");
    CHECK(same_alpha >= 1);
}

TEST_CASE("awq block: the loss token budget is what the search and the clipping see",
          "[awq][pipeline]") {
    Fixture f;
    auto fp = f.m->block_weights(0);
    REQUIRE(fp.ok());
    pipeline::AwqOptions opt;
    opt.loss_tokens = 3 * 16;  // 3 of the 12 windows: 0, 4 and 8
    auto budget = pipeline::awq_block(*f.m, **fp, f.xs, f.x_mean(0), f.bq, opt);
    REQUIRE(budget.ok());
    // The same as running on those windows alone with no budget...
    const std::vector<model::Activations> three = {f.xs[0], f.xs[4], f.xs[8]};
    pipeline::AwqOptions all = opt;
    all.loss_tokens = 0;
    auto alone = pipeline::awq_block(*f.m, **fp, three, f.x_mean(0), f.bq, all);
    REQUIRE(alone.ok());
    check_same(*budget, *alone);
    // ...and not the same as every window.
    auto every = pipeline::awq_block(*f.m, **fp, f.xs, f.x_mean(0), f.bq, all);
    REQUIRE(every.ok());
    CHECK(every->groups[0].loss_plain != budget->groups[0].loss_plain);
}

TEST_CASE("awq block advance: the windows come out as run_block makes them, bit for bit",
          "[awq][pipeline]") {
    Fixture f;
    auto fp = f.m->block_weights(0);
    REQUIRE(fp.ok());
    pipeline::AwqOptions opt;
    opt.loss_tokens = 2 * 16;  // the losses see 2 windows; every window is advanced
    opt.threads = 3;
    auto want = pipeline::awq_block(*f.m, **fp, f.xs, f.x_mean(0), f.bq, opt);
    REQUIRE(want.ok());
    auto moved = f.xs;
    auto got = pipeline::awq_block_advance(*f.m, **fp, moved, f.x_mean(0), f.bq, opt);
    REQUIRE(got.ok());
    check_same(*want, *got);
    REQUIRE(moved.size() == f.xs.size());
    for (size_t k = 0; k < f.xs.size(); ++k) {
        INFO("window " << k);
        auto x = f.xs[k];
        REQUIRE(f.m->run_block(**fp, x).ok());
        CHECK(moved[k].data == x.data);
        CHECK(moved[k].rows == x.rows);
        CHECK(moved[k].first_position == x.first_position);
        CHECK(moved[k].data != f.xs[k].data);
    }
}

TEST_CASE("awq layer stream: carries only the loss windows, as awq_block on them would",
          "[awq][pipeline]") {
    test::TempDir d;
    pipeline::ExampleOptions eo;
    auto shape = pipeline::example_shape("tiny");
    REQUIRE(shape.ok());
    eo.shape = *shape;
    REQUIRE(pipeline::write_example_checkpoint(d / "m", eo).ok());
    auto ck = io::Checkpoint::open(d / "m");
    REQUIRE(ck.ok());
    auto cfg = model::read_llama_config(d / "m");
    REQUIRE(cfg.ok());
    model::CheckpointWeights weights(*ck);
    auto m = model::Llama::create(*cfg, weights);
    REQUIRE(m.ok());
    std::vector<int32_t> ids;
    for (int i = 0; i < 8 * 31; ++i)
        ids.push_back((i * 37 + 11) % static_cast<int32_t>(cfg->vocab_size));
    auto stats = calib::collect_stats(*m, ids, 32, 0);
    REQUIRE(stats.ok());
    REQUIRE(stats->windows == 8);

    pipeline::AwqOptions opt;
    opt.loss_tokens = 3 * 32;  // windows 0, 2 and 5 of 8
    opt.threads = 2;
    auto stream = pipeline::AwqLayerStream::create(*ck, *cfg, *stats, opt);
    REQUIRE(stream.ok());
    const auto wins = calib::windows_of(*stats);
    std::vector<model::Activations> xs;
    for (size_t k : {size_t{0}, size_t{2}, size_t{5}}) {
        model::Activations x;
        REQUIRE(m->embed(wins[k], 0, x).ok());
        xs.push_back(std::move(x));
    }
    pipeline::BlockQuant bq;
    const int64_t H = cfg->hidden_size, QW = cfg->q_width(), KV = cfg->kv_width(),
                  I = cfg->intermediate_size;
    const int64_t shapes[7][2] = {{QW, H}, {KV, H}, {KV, H}, {H, QW}, {I, H}, {I, H}, {H, I}};
    for (size_t k = 0; k < 7; ++k) {
        bq.quantize[k] = true;
        bq.layout[k] = quant::make_layout(static_cast<uint64_t>(shapes[k][0]),
                                          static_cast<uint64_t>(shapes[k][1]), 4, 32);
    }
    for (int layer = 0; layer < cfg->num_hidden_layers; ++layer) {
        INFO("layer " << layer);
        auto got = stream->next(bq);
        REQUIRE(got.ok());
        auto fp = m->block_weights(layer);
        REQUIRE(fp.ok());
        std::array<std::vector<float>, 4> x_mean;
        const char* inputs[4] = {"self_attn.q_proj", "self_attn.o_proj", "mlp.gate_proj",
                                 "mlp.down_proj"};
        for (size_t g = 0; g < 4; ++g)
            x_mean[g] = stats->linears.at(calib::linear_key(layer, inputs[g])).mean_abs;
        auto want = pipeline::awq_block(*m, **fp, xs, x_mean, bq, opt);
        REQUIRE(want.ok());
        check_same(got->result, *want);
        for (auto& x : xs)
            REQUIRE(m->run_block(**fp, x).ok());
    }
}
