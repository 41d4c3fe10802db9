#include <catch2/catch.hpp>

#include "support/fixtures.hpp"
#include "support/paths.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/plan/plan.hpp"

using namespace sutra;

TEST_CASE("plan: what is quantized, what is kept and why", "[plan]") {
    test::TempDir dir;
    test::write_safetensors(
        dir / "m.safetensors",
        {
            {"model.embed_tokens.weight", DType::F16, {16, 64}, test::noise(16 * 64, 1), {}},
            {"model.layers.0.input_layernorm.weight", DType::F32, {64}, test::noise(64, 2), {}},
            {"model.layers.0.mlp.down_proj.weight",
             DType::BF16,
             {64, 172},
             test::noise(64 * 172, 3),
             {}},
            {"position_ids", DType::I64, {4}, {}, std::vector<uint8_t>(32, 0)},
            {"conv.weight", DType::F32, {2, 2, 2}, test::noise(8, 4), {}},
        });
    auto ck = io::Checkpoint::open(dir / "m.safetensors");
    REQUIRE(ck.ok());
    auto cfg = plan::load_preset("balanced");
    REQUIRE(cfg.ok());
    auto p = plan::make_plan(*ck, *cfg, {});
    REQUIRE(p.ok());
    REQUIRE(p->tensors.size() == 5);
    CHECK(p->tensors[0].quantize);
    CHECK(p->tensors[0].bits == 8);
    CHECK(p->tensors[0].layout.group == 64);  // the row is narrower than 128
    CHECK_FALSE(p->tensors[1].quantize);
    CHECK(p->tensors[1].keep_reason == "1-D");
    CHECK(p->tensors[2].quantize);
    CHECK(p->tensors[2].bits == 4);
    CHECK(p->tensors[2].layout.n_groups == 2);  // 128 + a ragged 44
    CHECK_FALSE(p->tensors[3].quantize);
    CHECK(p->tensors[3].keep_reason.find("I64") != std::string::npos);
    CHECK_FALSE(p->tensors[4].quantize);
    CHECK(p->quantized_count() == 2);

    plan::Overrides o;
    o.bits = 3;
    o.group_size = 32;
    auto q = plan::make_plan(*ck, *cfg, o);
    REQUIRE(q.ok());
    CHECK(q->tensors[0].bits == 3);
    CHECK(q->tensors[2].layout.group == 32);
    CHECK(q->stored_data_bytes < p->stored_data_bytes);
}
