// sutra's forward pass against an independent float64 numpy reference
// (test/reference/llama_reference.py, written from the papers and the checkpoint format, no
// sutra code), on a small generated checkpoint of every supported family: logits within 1e-4.
// Each case also runs sutra with the family's distinctive feature switched off and requires a
// clear miss, so that the comparison is known to see that feature.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/python.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/llama/llama.hpp"
#include "sutra/model/llama/llama_config.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"
#include "unit/model/model_test_support.hpp"

using namespace sutra;
using sutra::test::model::max_abs;
using sutra::test::model::max_abs_diff;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
    const test::Bytes b = test::read_bytes(p);
    return {b.begin(), b.end()};
}

std::vector<int32_t> test_ids(uint64_t vocab) {
    std::vector<int32_t> ids;
    for (uint64_t i = 0; i < 40; ++i)
        ids.push_back(static_cast<int32_t>((i * 7919 + 11) % vocab));
    return ids;
}

using ConfigEdit = std::function<void(model::LlamaConfig&)>;
using BlockEdit = std::function<void(model::BlockWeights&)>;

// sutra's logits for `ids` on the checkpoint in `dir`, with optional edits of the parsed config
// and of every block's weights (to switch a feature off).
std::vector<float> sutra_logits(const fs::path& dir, const std::vector<int32_t>& ids,
                                const ConfigEdit& edit_config = {},
                                const BlockEdit& edit_block = {}) {
    auto ck = io::Checkpoint::open(dir);
    REQUIRE(ck.ok());
    auto cfg = model::read_llama_config(dir);
    INFO((cfg.ok() ? "" : cfg.error().message));
    REQUIRE(cfg.ok());
    if (edit_config) edit_config(*cfg);
    model::CheckpointWeights weights(*ck);
    auto m = model::Llama::create(*cfg, weights);
    INFO((m.ok() ? "" : m.error().message));
    REQUIRE(m.ok());
    if (!edit_block) {
        auto l = m->forward(ids);
        REQUIRE(l.ok());
        return *l;
    }
    model::Activations x;
    REQUIRE(m->embed(ids, 0, x).ok());
    for (int layer = 0; layer < cfg->num_hidden_layers; ++layer) {
        auto w = m->block_weights(layer);
        REQUIRE(w.ok());
        model::BlockWeights edited = **w;
        edit_block(edited);
        REQUIRE(m->run_block(edited, x).ok());
    }
    std::vector<float> logits;
    REQUIRE(m->head(x, logits).ok());
    return logits;
}

struct Case {
    std::string label;
    pipeline::ExampleShape shape;
    DType dtype;
    std::string feature_off;  // what the edits switch off
    ConfigEdit config_off;
    BlockEdit block_off;
};

pipeline::ExampleShape shape(const std::string& name) {
    auto s = pipeline::example_shape(name);
    REQUIRE(s.ok());
    return *s;
}

std::vector<Case> cases() {
    std::vector<Case> v;
    auto no_rope_scaling = [](model::LlamaConfig& c) { c.rope_scaling = model::RopeScaling::none; };
    v.push_back({"tiny-llama3 (rope llama3, GQA, untied), BF16",
                 shape("tiny-llama3"),
                 DType::BF16,
                 "rope scaling",
                 no_rope_scaling,
                 {}});
    auto linear = shape("tiny-llama3");
    linear.rope_type = "linear";
    linear.rope_factor = 4.0;
    linear.rope_theta = 10000.0;
    linear.vocab = 4096;
    linear.bos_token_id = 1;
    linear.eos_token_id = 2;
    v.push_back(
        {"llama, rope linear x4, F32", linear, DType::F32, "rope scaling", no_rope_scaling, {}});
    // Llama 2 / Llama 3.2 style: no scaling, tied head; with attention_bias (q/k/v/o biases).
    auto biased = shape("tiny-llama3");
    biased.rope_type = "default";
    biased.attention_bias = true;
    biased.tie_embeddings = true;
    biased.vocab = 4096;
    biased.bos_token_id = 1;
    biased.eos_token_id = 2;
    v.push_back({"llama, attention_bias, tied, F16",
                 biased,
                 DType::F16,
                 "o_proj bias",
                 {},
                 [](model::BlockWeights& w) { std::fill(w.o_bias.begin(), w.o_bias.end(), 0.f); }});
    v.push_back({"tiny-mistral (sliding window 16 < 40 tokens), F16",
                 shape("tiny-mistral"),
                 DType::F16,
                 "sliding window",
                 [](model::LlamaConfig& c) { c.sliding_window = 0; },
                 {}});
    v.push_back({"tiny-qwen2 (q/k/v biases, tied), F32",
                 shape("tiny-qwen2"),
                 DType::F32,
                 "q/k/v biases",
                 {},
                 [](model::BlockWeights& w) {
                     for (auto* b : {&w.q_bias, &w.k_bias, &w.v_bias})
                         std::fill(b->begin(), b->end(), 0.f);
                 }});
    auto unit_qk_norm = [](model::BlockWeights& w) {
        std::fill(w.q_norm.begin(), w.q_norm.end(), 1.f);
        std::fill(w.k_norm.begin(), w.k_norm.end(), 1.f);
    };
    v.push_back({"tiny-qwen3 (q/k norms, head_dim 32, tied), BF16",
                 shape("tiny-qwen3"),
                 DType::BF16,
                 "q_norm/k_norm weights",
                 {},
                 unit_qk_norm});
    auto qwen3_bias = shape("tiny-qwen3");
    qwen3_bias.attention_bias = true;
    qwen3_bias.tie_embeddings = false;
    qwen3_bias.vocab = 4096;
    qwen3_bias.bos_token_id = 1;
    qwen3_bias.eos_token_id = 2;
    v.push_back({"qwen3, attention_bias, untied, F32",
                 qwen3_bias,
                 DType::F32,
                 "q_norm/k_norm weights",
                 {},
                 unit_qk_norm});
    return v;
}

}  // namespace

TEST_CASE("reference: every family's logits match an independent numpy reference within 1e-4",
          "[model][reference]") {
    const auto python = test::python_with_numpy();
    if (!python) {
        FAIL(
            "no python3 that imports numpy (tried $SUTRA_PYTHON, /usr/bin/python3, python3): "
            "the reference test needs it; scripts/bootstrap.sh installs python3-numpy");
    }
    const fs::path script = test::source_dir() / "test" / "reference" / "llama_reference.py";
    REQUIRE(fs::exists(script));
    for (const auto& c : cases()) {
        INFO(c.label);
        test::TempDir d;
        pipeline::ExampleOptions eo;
        eo.shape = c.shape;
        eo.dtype = c.dtype;
        const fs::path model = d / "model";
        REQUIRE(pipeline::write_example_checkpoint(model, eo).ok());
        const auto ids = test_ids(c.shape.vocab);
        std::string id_list;
        for (int32_t id : ids)
            id_list += (id_list.empty() ? "" : ",") + std::to_string(id);

        const fs::path out = d / "reference.f32";
        const int code = test::run_command(
            {*python, script.string(), model.string(), "--ids", id_list, "--out", out.string()},
            d.path());
        INFO("reference stderr: " << read_file(d / "stderr"));
        REQUIRE(code == 0);
        const std::string bytes = read_file(out);
        const size_t n = ids.size() * c.shape.vocab;
        REQUIRE(bytes.size() == n * sizeof(float));
        std::vector<float> want(n);
        std::memcpy(want.data(), bytes.data(), bytes.size());

        const auto got = sutra_logits(model, ids);
        const double err = max_abs_diff(got, want);
        INFO("max |logit| " << max_abs(want) << ", max |sutra - reference| " << err);
        CHECK(max_abs(want) > 1.0);  // logits of order 1: the tolerance is a tight one
        CHECK(err <= 1e-4);

        const auto off = sutra_logits(model, ids, c.config_off, c.block_off);
        const double miss = max_abs_diff(off, want);
        INFO("without " << c.feature_off << ": max |sutra - reference| " << miss);
        CHECK(miss > 1e-2);
    }
}
