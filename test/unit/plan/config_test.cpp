#include <catch2/catch.hpp>
#include <fstream>

#include "support/paths.hpp"
#include "sutra/io/strict_json.hpp"
#include "sutra/plan/config.hpp"
#include "sutra/plan/role.hpp"

using namespace sutra;
using namespace sutra::plan;

TEST_CASE("roles from Hugging Face and RWKV names", "[plan]") {
    CHECK(classify_tensor("model.embed_tokens.weight") == Role::embedding);
    CHECK(classify_tensor("transformer.wte.weight") == Role::embedding);
    CHECK(classify_tensor("emb.weight") == Role::embedding);
    CHECK(classify_tensor("backbone.embeddings.weight") == Role::embedding);  // Mamba (HF)
    CHECK(classify_tensor("backbone.embedding.weight") == Role::embedding);   // Mamba (original)
    CHECK(classify_tensor("rwkv.embeddings.weight") == Role::embedding);      // RWKV (HF)
    CHECK(classify_tensor("lm_head.weight") == Role::output);
    CHECK(classify_tensor("head.weight") == Role::output);
    CHECK(classify_tensor("model.layers.3.self_attn.q_proj.weight") == Role::attention);
    CHECK(classify_tensor("blocks.0.att.key.weight") == Role::attention);
    CHECK(classify_tensor("model.layers.3.mlp.down_proj.weight") == Role::feedforward);
    CHECK(classify_tensor("blocks.0.ffn.key.weight") == Role::feedforward);
    CHECK(classify_tensor("model.norm.weight") == Role::other);
}

TEST_CASE("glob patterns match whole names", "[plan]") {
    CHECK(glob_match("*.layers.0.*", "model.layers.0.mlp.up_proj.weight"));
    CHECK_FALSE(glob_match("*.layers.0.*", "model.layers.10.mlp.up_proj.weight"));
    CHECK(glob_match("model.layers.?.mlp.*", "model.layers.7.mlp.x"));
    CHECK_FALSE(glob_match("*.weight", "x.bias"));
    CHECK(glob_match("*", ""));
    CHECK(glob_match("a*b*c", "aXXbYYc"));
    CHECK_FALSE(glob_match("a*b*c", "aXXbYY"));
}

TEST_CASE("built-in presets parse and resolve", "[plan]") {
    for (const auto& name : preset_names()) {
        auto c = load_preset(name);
        REQUIRE(c.ok());
        CHECK(c->defaults.bits.has_value());
        CHECK(c->defaults.group_size.has_value());
    }
    auto bal = load_preset("balanced");
    REQUIRE(bal.ok());
    CHECK(bal->resolve("model.embed_tokens.weight", Role::embedding).bits == 8);
    CHECK(bal->resolve("model.layers.0.self_attn.q_proj.weight", Role::attention).bits == 4);
    auto bad = load_preset("fast");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("aggressive") != std::string::npos);
}

TEST_CASE("config files: rules apply in order, later rules win, errors name the field", "[plan]") {
    const char* text = R"({"default":{"bits":4,"group_size":128},
        "rules":[{"role":"feedforward","group_size":256},
                 {"pattern":"model.layers.0.*","bits":8},
                 {"pattern":"*.down_proj.*","keep":true}]})";
    auto j = io::parse_strict_json(text, "t");
    REQUIRE(j.ok());
    auto c = parse_config(*j, "t");
    REQUIRE(c.ok());
    auto s = c->resolve("model.layers.0.mlp.up_proj.weight", Role::feedforward);
    CHECK(s.bits == 8);
    CHECK(s.group_size == 256u);
    CHECK_FALSE(s.keep.value_or(false));
    CHECK(c->resolve("model.layers.1.mlp.down_proj.weight", Role::feedforward).keep == true);

    auto bad = [](const char* t) {
        auto jj = io::parse_strict_json(t, "cfg.json");
        REQUIRE(jj.ok());
        auto r = parse_config(*jj, "cfg.json");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::invalid_argument);
        return r.error().message;
    };
    CHECK(bad(R"({"default":{"bits":5}})").find("bits") != std::string::npos);
    CHECK(bad(R"({"default":{"group_size":100}})").find("group_size") != std::string::npos);
    CHECK(bad(R"({"default":{"bitz":4}})").find("bitz") != std::string::npos);
    CHECK(bad(R"({"rules":[{"bits":4}]})").find("rules[0]") != std::string::npos);
    CHECK(bad(R"({"rules":[{"role":"mlp","bits":4}]})").find("role") != std::string::npos);
    CHECK(bad(R"({"presets":1})").find("presets") != std::string::npos);
    CHECK(bad(R"([1])").find("object") != std::string::npos);
}

TEST_CASE("strict JSON refuses duplicate keys, deep nesting and a BOM", "[plan]") {
    CHECK_FALSE(io::parse_strict_json(R"({"a":1,"a":2})", "x").ok());
    CHECK(io::parse_strict_json(R"({"a":{"a":1}})", "x").ok());
    CHECK_FALSE(io::parse_strict_json(std::string(100000, '['), "x").ok());
    CHECK_FALSE(io::parse_strict_json("\xEF\xBB\xBF{}", "x").ok());
}

TEST_CASE("layering a config over a preset", "[plan]") {
    auto base = load_preset("balanced");
    REQUIRE(base.ok());
    QuantConfig over;
    over.name = "mine";
    over.defaults.group_size = 64;
    Rule r;
    r.role = Role::embedding;
    r.set.keep = true;
    over.rules.push_back(r);
    auto c = layer_config(*base, over);
    CHECK(c.resolve("model.layers.0.self_attn.q_proj.weight", Role::attention).group_size == 64u);
    CHECK(c.resolve("model.embed_tokens.weight", Role::embedding).keep == true);
    CHECK(c.resolve("lm_head.weight", Role::output).bits == 8);
}

TEST_CASE("the shipped example config file loads", "[plan]") {
    auto c = load_config_file((test::source_dir() / "configs" / "example-mixed.json").string());
    REQUIRE(c.ok());
    CHECK(c->resolve("model.layers.0.mlp.up_proj.weight", Role::feedforward).bits == 8);
    CHECK(c->resolve("model.layers.1.mlp.up_proj.weight", Role::feedforward).group_size == 256u);
    CHECK(c->resolve("model.layers.1.self_attn.q_proj.weight", Role::attention).group_size == 64u);
}
