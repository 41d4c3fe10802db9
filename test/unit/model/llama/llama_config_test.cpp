#include "sutra/model/llama/llama_config.hpp"

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

namespace {

// The published Qwen3-0.6B config.json, shrunk to small numbers.
nlohmann::json qwen3_config() {
    return nlohmann::json::parse(R"({
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
        "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 32, "hidden_act": "silu",
        "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 192,
        "max_position_embeddings": 40960, "max_window_layers": 2, "model_type": "qwen3",
        "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000,
        "sliding_window": null, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
        "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");
}

sutra::Error parse_error(const nlohmann::json& j) {
    auto r = parse_llama_config(j, "config.json");
    REQUIRE_FALSE(r.ok());
    return r.error();
}

}  // namespace

TEST_CASE("llama config: qwen3 has q/k norms, an explicit head_dim (default 128), no biases",
          "[model][config]") {
    auto r = parse_llama_config(qwen3_config(), "config.json");
    REQUIRE(r.ok());
    CHECK(r->model_type == "qwen3");
    CHECK(r->qk_norm);
    CHECK(r->head_dim == 32);  // not hidden / heads (16)
    CHECK(r->q_width() == 128);
    CHECK(r->kv_width() == 64);
    CHECK_FALSE(r->attention_bias);
    CHECK_FALSE(r->o_bias);
    CHECK(r->sliding_window == 0);
    CHECK(r->tie_word_embeddings);
    CHECK(r->rope_theta == 1000000.0);
    CHECK(r->rms_norm_eps == Approx(1e-6));
    CHECK(r->eos_token_ids == std::vector<int64_t>{151645});

    auto j = qwen3_config();
    j.erase("head_dim");
    auto d = parse_llama_config(j, "config.json");
    REQUIRE(d.ok());
    CHECK(d->head_dim == 128);  // transformers' Qwen3Config default, not hidden / heads

    j = qwen3_config();
    j["attention_bias"] = true;
    auto b = parse_llama_config(j, "config.json");
    REQUIRE(b.ok());
    CHECK(b->attention_bias);
    CHECK(b->o_bias);  // Qwen3Attention biases o_proj too
}

TEST_CASE("llama config: biases as each family's transformers attention builds them",
          "[model][config]") {
    auto j = base_config();
    j["attention_bias"] = true;
    auto llama = parse_llama_config(j, "config.json");
    REQUIRE(llama.ok());
    CHECK(llama->attention_bias);
    CHECK(llama->o_bias);
    CHECK_FALSE(llama->qk_norm);

    j["model_type"] = "qwen2";
    j["attention_bias"] = false;  // Qwen2Attention ignores it: q/k/v biased, o not
    auto qwen2 = parse_llama_config(j, "config.json");
    REQUIRE(qwen2.ok());
    CHECK(qwen2->attention_bias);
    CHECK_FALSE(qwen2->o_bias);

    j["model_type"] = "mistral";
    j["attention_bias"] = true;  // MistralAttention ignores it: no biases
    auto mistral = parse_llama_config(j, "config.json");
    REQUIRE(mistral.ok());
    CHECK_FALSE(mistral->attention_bias);
    CHECK_FALSE(mistral->o_bias);
}

TEST_CASE("llama config: sliding windows as transformers reads them", "[model][config]") {
    auto j = base_config();
    j["model_type"] = "mistral";
    auto absent = parse_llama_config(j, "config.json");
    REQUIRE(absent.ok());
    CHECK(absent->sliding_window == 4096);  // MistralConfig's default
    j["sliding_window"] = nullptr;
    auto none = parse_llama_config(j, "config.json");
    REQUIRE(none.ok());
    CHECK(none->sliding_window == 0);
    j["sliding_window"] = 16;
    CHECK(parse_llama_config(j, "config.json")->sliding_window == 16);

    // Llama has no window, whatever the file says.
    j["model_type"] = "llama";
    CHECK(parse_llama_config(j, "config.json")->sliding_window == 0);

    // Qwen: a window only with use_sliding_window, on layers >= max_window_layers (or those
    // layer_types marks); sutra refuses any windowed layer.
    for (const char* type : {"qwen2", "qwen3"}) {
        auto q = type == std::string("qwen3") ? qwen3_config() : base_config();
        q["model_type"] = type;
        q.erase("architectures");
        q["sliding_window"] = 16;
        CHECK(parse_llama_config(q, "config.json")->sliding_window == 0);
        q["use_sliding_window"] = true;
        q["max_window_layers"] = 1;
        auto e = parse_error(q);
        CHECK(e.code == Errc::unsupported);
        CHECK(contains(e.message, "use_sliding_window"));
        CHECK(contains(e.message, "layer 1"));
        q["max_window_layers"] = 28;  // beyond the last layer: every layer is full attention
        CHECK(parse_llama_config(q, "config.json").ok());
        q["layer_types"] = std::vector<std::string>(
            static_cast<size_t>(q["num_hidden_layers"].get<int>()), "full_attention");
        q["layer_types"][0] = "sliding_attention";
        CHECK(contains(parse_error(q).message, "layer 0"));
        q["sliding_window"] = nullptr;  // no window size: transformers uses full attention
        CHECK(parse_llama_config(q, "config.json").ok());
    }
}

TEST_CASE("llama config: rope_parameters (transformers 5) and rope_scaling are read alike",
          "[model][config]") {
    auto j = base_config();
    j["rope_parameters"] = {{"rope_type", "llama3"},   {"rope_theta", 500000.0},
                            {"factor", 8.0},           {"low_freq_factor", 1.0},
                            {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
    auto r = parse_llama_config(j, "config.json");
    REQUIRE(r.ok());
    CHECK(r->rope_scaling == RopeScaling::llama3);
    CHECK(r->rope_theta == 500000.0);
    CHECK(r->rope_factor == 8.0);
    CHECK(r->rope_original_max_position == 8192);

    j = base_config();
    j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};
    r = parse_llama_config(j, "config.json");
    REQUIRE(r.ok());
    CHECK(r->rope_scaling == RopeScaling::none);
    CHECK(r->rope_theta == 1000000.0);

    j = base_config();
    j["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}};
    r = parse_llama_config(j, "config.json");
    REQUIRE(r.ok());
    CHECK(r->rope_scaling == RopeScaling::linear);
    CHECK(r->rope_factor == 4.0);

    // llama3 needs all of its parameters, as in transformers.
    j = base_config();
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", 8.0},
                         {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0}};
    CHECK(contains(parse_error(j).message, "original_max_position_embeddings"));
}

TEST_CASE("llama config: what would change the math unnoticed is refused, naming the value",
          "[model][config]") {
    struct Bad {
        const char* field;
        nlohmann::json value;
        const char* named;
    };
    const Bad cases[] = {
        {"model_type", "gemma", "gemma"},
        {"model_type", "phi3", "phi3"},
        {"model_type", "gpt2", "gpt2"},
        {"model_type", "mixtral", "mixtral"},
        {"model_type", "qwen2_moe", "qwen2_moe"},
        {"architectures", {"MistralForCausalLM"}, "MistralForCausalLM"},
        {"architectures", {"LlamaForSequenceClassification"}, "LlamaForSequenceClassification"},
        {"hidden_act", "gelu_pytorch_tanh", "gelu_pytorch_tanh"},
        {"mlp_bias", true, "mlp_bias"},
        {"rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}, "yarn"},
        {"rope_scaling", {{"type", "dynamic"}, {"factor", 2.0}}, "dynamic"},
        {"rope_scaling", {{"rope_type", "longrope"}, {"factor", 2.0}}, "longrope"},
        {"rope_parameters",
         {{"full_attention", {{"rope_type", "default"}}},
          {"sliding_attention", {{"rope_type", "default"}}}},
         "per-layer"},
        {"partial_rotary_factor", 0.5, "partial_rotary_factor"},
        {"quantization_config", {{"quant_method", "awq"}, {"bits", 4}}, "awq"},
    };
    for (const auto& b : cases) {
        auto j = base_config();
        j["architectures"] = {"LlamaForCausalLM"};
        j[b.field] = b.value;
        auto e = parse_error(j);
        INFO(b.field << " = " << b.value.dump() << ": " << e.message);
        CHECK(e.code == Errc::unsupported);
        CHECK(contains(e.message, b.named));
    }
    // The message lists what is supported.
    auto j = base_config();
    j["model_type"] = "gemma";
    const auto e = parse_error(j);
    for (const char* s : {"llama", "mistral", "qwen2", "qwen3", "Qwen3ForCausalLM"})
        CHECK(contains(e.message, s));
    // Matching names are fine, for every family.
    for (const auto& [type, arch] :
         std::vector<std::pair<std::string, std::string>>{{"llama", "LlamaForCausalLM"},
                                                          {"mistral", "MistralForCausalLM"},
                                                          {"qwen2", "Qwen2ForCausalLM"},
                                                          {"qwen3", "Qwen3ForCausalLM"}}) {
        auto k = base_config();
        k["model_type"] = type;
        k["architectures"] = {arch};
        k["head_dim"] = 8;
        CHECK(parse_llama_config(k, "config.json").ok());
    }
}
