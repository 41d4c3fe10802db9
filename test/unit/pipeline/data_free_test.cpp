// Data-free salience: with a salience_threshold and no calibration, the linears after a norm
// get their high-salience columns scaled up and the norm divided by the same scales.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>

#include "support/fixtures.hpp"
#include "support/paths.hpp"
#include "sutra/format/qbin_reader.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/pipeline/quantize.hpp"
#include "sutra/pipeline/validate.hpp"

using namespace sutra;

TEST_CASE("data-free salience folds scales into the norm and keeps the product norm * W",
          "[pipeline]") {
    test::TempDir d;
    auto norm = test::noise(64, 21, 0.3f);
    for (auto& v : norm)
        v += 1.0f;
    norm[5] = 6.0f;  // two clearly salient channels
    norm[40] = -5.0f;
    test::write_safetensors(
        d / "m.safetensors",
        {
            {"model.layers.0.input_layernorm.weight", DType::F32, {64}, norm, {}},
            {"model.layers.0.self_attn.q_proj.weight",
             DType::F32,
             {64, 64},
             test::noise(4096, 22, 0.05f),
             {}},
            {"model.layers.0.self_attn.k_proj.weight",
             DType::F32,
             {32, 64},
             test::noise(2048, 23, 0.05f),
             {}},
            {"model.layers.0.self_attn.v_proj.weight",
             DType::F32,
             {32, 64},
             test::noise(2048, 24, 0.05f),
             {}},
            {"model.layers.0.self_attn.o_proj.weight",
             DType::F32,
             {64, 64},
             test::noise(4096, 25, 0.05f),
             {}},
        });
    {
        std::ofstream cfg(d / "cfg.json");
        cfg << R"({"default":{"bits":4,"group_size":32},"salience_threshold":2.0})";
    }
    pipeline::QuantizeOptions o;
    o.input = d / "m.safetensors";
    o.output = d / "m.qbin";
    o.config_file = d / "cfg.json";
    auto r = pipeline::run_quantize(o, nullptr);
    REQUIRE(r.ok());
    CHECK(r->method == "data-free");
    REQUIRE(r->salience.size() == 1);
    const auto& g = r->salience.front();
    CHECK(g.salient_share == Approx(2.0 / 64));
    CHECK(g.loss_best <= g.loss_plain);
    CHECK(g.best_alpha > 0.0f);  // the two outliers are worth protecting

    auto q = format::QbinFile::open(o.output);
    REQUIRE(q.ok());
    CHECK(q->find("model.layers.0.input_layernorm.weight")->transformed);
    CHECK(q->find("model.layers.0.self_attn.q_proj.weight")->transformed);
    CHECK_FALSE(q->find("model.layers.0.self_attn.o_proj.weight")->transformed);
    auto ck = io::Checkpoint::open(o.input);
    REQUIRE(ck.ok());
    // norm' * W' equals norm * W up to the quantization error (the model is unchanged).
    auto n2 = q->read_all_f32(*q->find("model.layers.0.input_layernorm.weight"));
    auto w2 = q->read_all_f32(*q->find("model.layers.0.self_attn.q_proj.weight"));
    auto w = ck->read_all_f32("model.layers.0.self_attn.q_proj.weight");
    double err = 0, ref = 0;
    for (size_t i = 0; i < w->size(); ++i) {
        const double a = static_cast<double>(norm[i % 64]) * static_cast<double>((*w)[i]);
        const double b = static_cast<double>((*n2)[i % 64]) * static_cast<double>((*w2)[i]);
        err += (a - b) * (a - b);
        ref += a * a;
    }
    CHECK(std::sqrt(err / ref) < 0.15);
    CHECK((*n2)[5] < norm[5]);  // the salient channel's norm weight was divided by s > 1

    // --method rtn turns it off.
    o.method = "rtn";
    o.force = true;
    auto plain = pipeline::run_quantize(o, nullptr);
    REQUIRE(plain.ok());
    CHECK(plain->method == "rtn");
    CHECK(plain->salience.empty());
}

TEST_CASE("data-free salience lowers the KL of 4-bit round-to-nearest on stories260K",
          "[pipeline][shared][slow]") {
    const auto model = test::shared_dir() / "models" / "stories260K-hf";
    REQUIRE(std::filesystem::exists(model / "model.safetensors"));
    test::TempDir d;
    {
        std::ofstream cfg(d / "cfg.json");
        cfg << R"({"default":{"bits":4,"group_size":32},"salience_threshold":1.0,
                   "rules":[{"role":"embedding","keep":true}]})";
    }
    double kl[2];
    for (int i = 0; i < 2; ++i) {
        pipeline::QuantizeOptions o;
        o.input = model;
        o.output = d / "m.qbin";
        o.force = true;
        o.config_file = d / "cfg.json";
        o.method = i == 0 ? "rtn" : "auto";
        auto r = pipeline::run_quantize(o, nullptr);
        REQUIRE(r.ok());
        pipeline::ValidateOptions v;
        v.qbin = o.output;
        v.against = model;
        v.text = test::shared_dir() / "text" / "tinystories_eval.txt";
        v.max_tokens = 16384;
        auto vr = pipeline::run_validate(v, nullptr);
        REQUIRE(vr.ok());
        REQUIRE(vr->quality.has_value());
        kl[i] = vr->quality->mean_kl;
    }
    INFO("RTN KL " << kl[0] << ", data-free KL " << kl[1]);
    CHECK(kl[1] < kl[0]);
}
