#include "sutra/model/llama_config.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "unit/model/model_test_support.hpp"

using sutra::Errc;
using sutra::model::parse_llama_config;
using sutra::model::RopeScaling;

namespace {

nlohmann::json base_config() {
    return nlohmann::json::parse(R"({
        "model_type": "llama", "vocab_size": 512, "hidden_size": 64,
        "intermediate_size": 172, "num_hidden_layers": 5, "num_attention_heads": 8,
        "num_key_value_heads": 4, "rms_norm_eps": 1e-05, "max_position_embeddings": 512,
        "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": 2})");
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("llama config: fields and defaults", "[model][config]") {
    auto r = parse_llama_config(base_config(), "config.json");
    REQUIRE(r.ok());
    const auto& c = *r;
    CHECK(c.hidden_size == 64);
    CHECK(c.intermediate_size == 172);
    CHECK(c.num_hidden_layers == 5);
    CHECK(c.num_attention_heads == 8);
    CHECK(c.num_key_value_heads == 4);
    CHECK(c.head_dim == 8);  // hidden / heads
    CHECK(c.vocab_size == 512);
    CHECK(c.rms_norm_eps == Approx(1e-5));
    CHECK(c.rope_theta == 10000.0);  // default
    CHECK(c.tie_word_embeddings);
    CHECK_FALSE(c.attention_bias);
    CHECK(c.bos_token_id == 1);
    CHECK(c.eos_token_ids == std::vector<int64_t>{2});
    CHECK(c.max_position_embeddings == 512);
    CHECK(c.rope_scaling == RopeScaling::none);

    auto j = base_config();
    j.erase("num_key_value_heads");
    auto r2 = parse_llama_config(j, "config.json");
    REQUIRE(r2.ok());
    CHECK(r2->num_key_value_heads == 8);
}

TEST_CASE("llama config: qwen2 has attention biases, mistral a sliding window", "[model][config]") {
    auto j = base_config();
    j["model_type"] = "qwen2";
    auto q = parse_llama_config(j, "config.json");
    REQUIRE(q.ok());
    CHECK(q->attention_bias);
    CHECK(q->sliding_window == 0);

    j["model_type"] = "mistral";
    j["sliding_window"] = 4096;
    auto m = parse_llama_config(j, "config.json");
    REQUIRE(m.ok());
    CHECK_FALSE(m->attention_bias);
    CHECK(m->sliding_window == 4096);
}

TEST_CASE("llama config: llama3 rope scaling and eos list", "[model][config]") {
    auto j = base_config();
    j["rope_theta"] = 500000;
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", 32.0},
                         {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0},
                         {"original_max_position_embeddings", 8192}};
    j["eos_token_id"] = {2, 3};
    auto r = parse_llama_config(j, "config.json");
    REQUIRE(r.ok());
    CHECK(r->rope_scaling == RopeScaling::llama3);
    CHECK(r->rope_factor == 32.0);
    CHECK(r->rope_theta == 500000.0);
    CHECK(r->eos_token_ids == std::vector<int64_t>{2, 3});

    j["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}};
    auto y = parse_llama_config(j, "config.json");
    REQUIRE_FALSE(y.ok());
    CHECK(y.error().code == Errc::unsupported);
    CHECK(contains(y.error().message, "yarn"));
}

TEST_CASE("llama config: a missing field is named", "[model][config]") {
    for (const char* field : {"hidden_size", "intermediate_size", "num_hidden_layers",
                              "num_attention_heads", "vocab_size", "rms_norm_eps"}) {
        auto j = base_config();
        j.erase(field);
        auto r = parse_llama_config(j, "models/x/config.json");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::bad_format);
        CHECK(contains(r.error().message, field));
        CHECK(contains(r.error().message, "models/x/config.json"));
    }
}

TEST_CASE("llama config: invalid values are named", "[model][config]") {
    auto j = base_config();
    j["hidden_size"] = "64";
    auto r = parse_llama_config(j, "config.json");
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().message, "hidden_size"));

    j = base_config();
    j["num_hidden_layers"] = -1;
    r = parse_llama_config(j, "config.json");
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().message, "num_hidden_layers"));

    j = base_config();
    j["num_key_value_heads"] = 3;  // 8 heads not a multiple of 3
    r = parse_llama_config(j, "config.json");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_argument);
    CHECK(contains(r.error().message, "num_key_value_heads"));

    j = base_config();
    j["head_dim"] = 7;
    r = parse_llama_config(j, "config.json");
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().message, "head_dim"));

    j = base_config();
    j["eos_token_id"] = 100000;
    r = parse_llama_config(j, "config.json");
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().message, "eos_token_id"));

    r = parse_llama_config(nlohmann::json::array(), "config.json");
    REQUIRE_FALSE(r.ok());
}

TEST_CASE("llama config: an unsupported model_type is named with the supported ones",
          "[model][config]") {
    auto j = base_config();
    j["model_type"] = "rwkv";
    auto r = parse_llama_config(j, "config.json");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::unsupported);
    CHECK(contains(r.error().message, "rwkv"));
    CHECK(contains(r.error().message, "llama"));
    CHECK(contains(r.error().message, "qwen2"));

    j = base_config();
    j.erase("model_type");
    r = parse_llama_config(j, "config.json");
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().message, "model_type"));

    j = base_config();
    j["hidden_act"] = "gelu";
    r = parse_llama_config(j, "config.json");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::unsupported);
    CHECK(contains(r.error().message, "gelu"));
}

TEST_CASE("llama config: read from a model folder", "[model][config][shared]") {
    const auto dir = sutra::test::model::models_dir() / "stories260K-hf";
    REQUIRE(std::filesystem::exists(dir / "config.json"));
    auto r = sutra::model::read_llama_config(dir);
    REQUIRE(r.ok());
    CHECK(r->head_dim == 8);
    CHECK(r->num_key_value_heads == 4);

    auto missing =
        sutra::model::read_llama_config(sutra::test::model::models_dir() / "stories260K");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == Errc::not_found);
    CHECK(contains(missing.error().message, "config.json"));
}
