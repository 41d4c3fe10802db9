// End to end on the real model: RTN-quantized stories260K run back through the forward pass
// gives the reference perplexity of ../shared/text/README.md.
#include <catch2/catch.hpp>

#include "support/paths.hpp"
#include "sutra/model/matrix.hpp"
#include "sutra/pipeline/dequantize.hpp"
#include "sutra/pipeline/evaluate.hpp"
#include "sutra/pipeline/quantize.hpp"

using namespace sutra;

TEST_CASE("4-bit group-32 RTN on all linears gives perplexity 5.023 (+-1%) on the eval text",
          "[pipeline][shared][slow]") {
    const auto model = test::shared_dir() / "models" / "stories260K-hf";
    const auto text = test::shared_dir() / "text" / "tinystories_eval.txt";
    REQUIRE(std::filesystem::exists(text));
    test::TempDir d;
    pipeline::QuantizeOptions q;
    q.input = model;
    q.output = d / "m.qbin";
    q.config_file = test::source_dir() / "configs" / "linears-4bit-g32.json";
    q.method = "rtn";  // the reference protocol: plain round-to-nearest
    auto qr = pipeline::run_quantize(q, nullptr);
    REQUIRE(qr.ok());
    CHECK(qr->quantized == 35);  // 5 layers x 7 linears; the tied embedding is kept

    // The .qbin carries config.json; the tokenizer comes from the model folder.
    pipeline::EvalOptions e;
    e.model = q.output;
    e.text = text;
    e.model_dir = model;
    auto er = pipeline::run_eval(e, nullptr);
    REQUIRE(er.ok());
    CHECK(er->tokens > 95000);
    CHECK(er->perplexity == Approx(5.023).epsilon(0.01));

    // The same through a dequantized checkpoint, as any other tool would load it.
    pipeline::DequantizeOptions dq;
    dq.input = q.output;
    dq.output = d / "back.safetensors";
    REQUIRE(pipeline::run_dequantize(dq, nullptr).ok());
    pipeline::EvalOptions e2 = e;
    e2.model = dq.output;
    auto er2 = pipeline::run_eval(e2, nullptr);
    REQUIRE(er2.ok());
    // The .qbin ran with the default 8-bit activations: close to the dequantized weights' f32
    // products; with f32 activations it is their perplexity.
    CHECK(er->perplexity == Approx(er2->perplexity).epsilon(1e-4));
    const model::PackedProductOptions saved = model::packed_product_options();
    model::PackedProductOptions exact = saved;
    exact.activations = model::ActivationFormat::f32;
    model::set_packed_product_options(exact);
    auto er3 = pipeline::run_eval(e, nullptr);
    model::set_packed_product_options(saved);
    REQUIRE(er3.ok());
    CHECK(er3->perplexity == Approx(er2->perplexity).epsilon(1e-9));
}
