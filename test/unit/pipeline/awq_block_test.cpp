// AWQ on Qwen3-shaped checkpoints (q_norm/k_norm, head_dim != hidden / heads): the scaling
// groups fold exactly (a forced alpha without quantization leaves the logits unchanged), and
// `quantize` with calibration runs end to end and stays close to the original.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/paths.hpp"
#include "sutra/calib/collect.hpp"
#include "sutra/calib/stats_file.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/llama/llama.hpp"
#include "sutra/model/llama/llama_config.hpp"
#include "sutra/model/model_source.hpp"
#include "sutra/pipeline/awq_block.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"
#include "sutra/pipeline/quantize.hpp"
#include "sutra/pipeline/quantize_data_free.hpp"
#include "unit/model/model_test_support.hpp"

using namespace sutra;
using sutra::test::model::max_abs;
using sutra::test::model::max_abs_diff;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

std::vector<int32_t> ids_for(uint64_t vocab, size_t n, uint64_t mul) {
    std::vector<int32_t> v;
    for (uint64_t i = 0; i < n; ++i)
        v.push_back(static_cast<int32_t>((i * mul + 5) % vocab));
    return v;
}

// Logits of `ids` with the given blocks instead of the checkpoint's.
std::vector<float> logits_with(model::Llama& m, const std::vector<int32_t>& ids,
                               const std::vector<model::BlockWeights>& blocks) {
    model::Activations x;
    REQUIRE(m.embed(ids, 0, x).ok());
    for (const auto& b : blocks)
        REQUIRE(m.run_block(b, x).ok());
    std::vector<float> logits;
    REQUIRE(m.head(x, logits).ok());
    return logits;
}

pipeline::ExampleShape qwen3_shape(uint64_t kv_heads, uint64_t vocab) {
    auto s = pipeline::example_shape("tiny-qwen3");
    REQUIRE(s.ok());
    s->kv_heads = kv_heads;
    s->vocab = vocab;
    if (vocab <= s->bos_token_id) {
        s->bos_token_id = 1;
        s->eos_token_id = 2;
    }
    return *s;
}

}  // namespace

TEST_CASE("awq: on Qwen3, a forced alpha without quantization keeps the logits (exact folds)",
          "[awq][pipeline]") {
    // GQA (the o group is skipped, as v's width differs from o's input) and MHA (o's scales
    // fold into v's output rows).
    for (const uint64_t kv_heads : {2u, 4u}) {
        INFO("kv_heads " << kv_heads);
        TempDir d;
        pipeline::ExampleOptions eo;
        eo.shape = qwen3_shape(kv_heads, kv_heads == 2 ? 151936 : 4096);
        eo.dtype = DType::BF16;
        REQUIRE(pipeline::write_example_checkpoint(d / "m", eo).ok());
        auto ck = io::Checkpoint::open(d / "m");
        REQUIRE(ck.ok());
        auto cfg = model::read_llama_config(d / "m");
        REQUIRE(cfg.ok());
        REQUIRE(cfg->qk_norm);
        model::CheckpointWeights weights(*ck);
        auto m = model::Llama::create(*cfg, weights);
        REQUIRE(m.ok());

        auto stats = calib::collect_stats(*m, ids_for(eo.shape.vocab, 4 * 23, 104729), 24, 0);
        REQUIRE(stats.ok());
        std::vector<model::Activations> xs;
        for (auto win : calib::windows_of(*stats)) {
            model::Activations x;
            REQUIRE(m->embed(win, 0, x).ok());
            xs.push_back(std::move(x));
        }
        REQUIRE(xs.size() == 4);

        pipeline::BlockQuant bq;
        const int64_t H = cfg->hidden_size, QW = cfg->q_width(), KV = cfg->kv_width(),
                      I = cfg->intermediate_size;
        const int64_t shapes[7][2] = {{QW, H}, {KV, H}, {KV, H}, {H, QW}, {I, H}, {I, H}, {H, I}};
        for (size_t k = 0; k < 7; ++k) {
            bq.quantize[k] = true;
            bq.layout[k] = quant::make_layout(static_cast<uint64_t>(shapes[k][0]),
                                              static_cast<uint64_t>(shapes[k][1]), 4, 32);
        }
        pipeline::AwqOptions opt;
        opt.alpha = 0.5f;
        opt.clip = false;

        std::vector<model::BlockWeights> original, folded;
        for (int layer = 0; layer < cfg->num_hidden_layers; ++layer) {
            auto fp = m->block_weights(layer);
            REQUIRE(fp.ok());
            std::array<std::vector<float>, 4> x_mean;
            const char* inputs[4] = {"self_attn.q_proj", "self_attn.o_proj", "mlp.gate_proj",
                                     "mlp.down_proj"};
            for (size_t g = 0; g < 4; ++g)
                x_mean[g] = stats->linears.at(calib::linear_key(layer, inputs[g])).mean_abs;
            auto r = pipeline::awq_block(*m, **fp, xs, x_mean, bq, opt);
            REQUIRE(r.ok());
            REQUIRE(r->groups.size() == 4);
            for (const auto& g : r->groups) {
                INFO("group " << g.group);
                CHECK(g.searched == (g.group != "o" || kv_heads == 4));
                if (g.searched) CHECK(g.best_alpha == 0.5f);
            }
            const auto& w = r->weights;
            // The transform moved the norms; it never touches the q/k norms.
            CHECK(max_abs_diff(w.input_norm, (*fp)->input_norm) > 0.05);
            CHECK(max_abs_diff(w.post_norm, (*fp)->post_norm) > 0.05);
            CHECK(w.q_norm == (*fp)->q_norm);
            CHECK(w.k_norm == (*fp)->k_norm);
            original.push_back(**fp);
            folded.push_back(w);
            for (auto& x : xs)
                REQUIRE(m->run_block(**fp, x).ok());
        }

        const auto ids = ids_for(eo.shape.vocab, 40, 7919);
        const auto want = logits_with(*m, ids, original);
        const auto got = logits_with(*m, ids, folded);
        INFO("max |logit| " << max_abs(want) << ", max |folded - original| "
                            << max_abs_diff(got, want));
        CHECK(max_abs(want) > 1.0);
        CHECK(max_abs_diff(got, want) <= 1e-4);

        // Control: the scaled q/k/v without the fold into input_layernorm is a different model,
        // so the comparison above sees a wrong fold.
        auto unfolded = folded;
        for (size_t l = 0; l < unfolded.size(); ++l)
            unfolded[l].input_norm = original[l].input_norm;
        CHECK(max_abs_diff(logits_with(*m, ids, unfolded), want) > 1e-2);
    }
}

TEST_CASE("awq: quantize with calibration on tiny-qwen3, 8-bit output stays close to the original",
          "[awq][pipeline]") {
    TempDir d;
    const fs::path model = d / "model";
    pipeline::ExampleOptions eo;
    eo.shape = qwen3_shape(2, 151936);
    eo.dtype = DType::BF16;
    REQUIRE(pipeline::write_example_checkpoint(model, eo).ok());
    // Calibration statistics on token ids, saved as `sutra calibrate` would.
    {
        auto ck = io::Checkpoint::open(model);
        REQUIRE(ck.ok());
        auto cfg = model::read_llama_config(model);
        REQUIRE(cfg.ok());
        model::CheckpointWeights weights(*ck);
        auto m = model::Llama::create(*cfg, weights);
        REQUIRE(m.ok());
        auto stats = calib::collect_stats(*m, ids_for(eo.shape.vocab, 400, 104729), 32, 0);
        REQUIRE(stats.ok());
        REQUIRE(stats->windows == 12);
        SUTRA_REQUIRE_OK(calib::save_calibration(*stats, d / "stats.safetensors", false));
    }

    pipeline::QuantizeOptions q;
    q.input = model;
    q.output = d / "m.qbin";
    q.method = "awq";
    q.calib = d / "stats.safetensors";
    q.overrides.bits = 8;
    q.overrides.group_size = 32;
    auto r = pipeline::run_quantize(q, nullptr);
    INFO((r.ok() ? "" : r.error().message));
    REQUIRE(r.ok());
    CHECK(r->method == "awq");
    REQUIRE(r->awq.size() == 2);
    for (const auto& layer : r->awq) {
        REQUIRE(layer.groups.size() == 4);
        CHECK(layer.groups[0].group == "qkv");
        CHECK(layer.groups[0].searched);
        CHECK(layer.groups[0].loss_best <= layer.groups[0].loss_plain);
    }

    const auto ids = ids_for(eo.shape.vocab, 40, 7919);
    auto run = [&](const fs::path& path) {
        auto src = model::open_model(path, model);
        INFO((src.ok() ? "" : src.error().message));
        REQUIRE(src.ok());
        auto m = model::open_runtime(*src);
        REQUIRE(m.ok());
        auto l = model::forward(**m, ids);
        REQUIRE(l.ok());
        return *l;
    };
    const auto want = run(model);
    const auto got = run(q.output);
    auto rtn = q;
    rtn.method = "rtn";
    rtn.calib.reset();
    rtn.output = d / "rtn.qbin";
    SUTRA_REQUIRE_OK(pipeline::run_quantize(rtn, nullptr));
    const auto plain = run(rtn.output);
    auto mse = [&](const std::vector<float>& a) {
        double e = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            const double diff = static_cast<double>(a[i]) - static_cast<double>(want[i]);
            e += diff * diff;
        }
        return e / static_cast<double>(a.size());
    };
    INFO("logit MSE: AWQ " << mse(got) << ", RTN " << mse(plain));
    CHECK(mse(got) < mse(plain));  // the search found scales that help (measured: 2.8x lower)
    const auto V = static_cast<size_t>(eo.shape.vocab);
    size_t agree = 0;
    for (size_t t = 0; t < ids.size(); ++t) {
        auto top = [&](const std::vector<float>& l) {
            return std::max_element(l.begin() + static_cast<std::ptrdiff_t>(t * V),
                                    l.begin() + static_cast<std::ptrdiff_t>((t + 1) * V)) -
                   l.begin();
        };
        agree += top(want) == top(got) ? 1 : 0;
    }
    const double rel = max_abs_diff(got, want) / max_abs(want);
    INFO("max |logit| " << max_abs(want) << ", relative max error " << rel << ", top-1 agreement "
                        << agree << "/" << ids.size());
    CHECK(rel < 0.05);
    CHECK(agree >= ids.size() * 9 / 10);
}

TEST_CASE("data-free salience on Qwen3 folds only into the block norms, never q_norm/k_norm",
          "[pipeline][awq]") {
    TempDir d;
    pipeline::ExampleOptions eo;
    eo.shape = qwen3_shape(2, 4096);
    REQUIRE(pipeline::write_example_checkpoint(d / "m", eo).ok());
    auto ck = io::Checkpoint::open(d / "m");
    REQUIRE(ck.ok());
    const auto groups = pipeline::find_norm_groups(*ck);
    REQUIRE(groups.size() == 2 * eo.shape.layers);
    std::vector<std::string> seen;
    for (const auto& g : groups) {
        std::string line = ck->tensors()[g.norm].name + " ->";
        for (size_t l : g.linears)
            line += " " + ck->tensors()[l].name;
        seen.push_back(line);
    }
    std::sort(seen.begin(), seen.end());
    const std::vector<std::string> want = {
        "model.layers.0.input_layernorm.weight -> model.layers.0.self_attn.q_proj.weight "
        "model.layers.0.self_attn.k_proj.weight model.layers.0.self_attn.v_proj.weight",
        "model.layers.0.post_attention_layernorm.weight -> model.layers.0.mlp.gate_proj.weight "
        "model.layers.0.mlp.up_proj.weight",
        "model.layers.1.input_layernorm.weight -> model.layers.1.self_attn.q_proj.weight "
        "model.layers.1.self_attn.k_proj.weight model.layers.1.self_attn.v_proj.weight",
        "model.layers.1.post_attention_layernorm.weight -> model.layers.1.mlp.gate_proj.weight "
        "model.layers.1.mlp.up_proj.weight"};
    CHECK(seen == want);
}
