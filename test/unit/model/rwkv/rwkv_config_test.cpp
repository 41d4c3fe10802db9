// What detect_config reads from the tiny-rwkv fixtures (version, sizes, heads, naming), and the
// errors for checkpoints and config.json files that do not fit together.
#include <catch2/catch.hpp>

#include "sutra/model/rwkv/rwkv_config.hpp"
#include "unit/model/rwkv/rwkv_test_support.hpp"

using namespace sutra;
using model::rwkv::Naming;
using model::rwkv::RwkvConfig;
using model::rwkv::Version;
namespace tr = sutra::test::rwkv;

namespace {

RwkvConfig detect(const tr::Fixture& f) {
    auto c = model::rwkv::detect_config(f.config_ptr(), *f.weights);
    INFO((c.ok() ? "" : c.error().message));
    REQUIRE(c.ok());
    return *c;
}

// The error of opening `w` (with `config`), which must fail with `code`.
std::string open_error(const model::WeightSource& w, const nlohmann::json* config, Errc code) {
    auto m = model::rwkv::open(config, w, {});
    REQUIRE_FALSE(m.ok());
    INFO(m.error().message);
    CHECK(m.error().code == code);
    return m.error().message;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("rwkv config: version, sizes and heads from the tensors", "[rwkv][shared]") {
    SECTION("RWKV-4, rwkv.cpp") {
        const RwkvConfig c =
            detect(tr::load_fixture(tr::fixtures() / "tiny-rwkv-4v0-660K.safetensors"));
        CHECK(c.naming == Naming::rwkv_cpp);
        CHECK(c.version == Version::v4);
        CHECK_FALSE(c.raw_decay);
        CHECK((c.hidden == 128 && c.layers == 4 && c.vocab == 256 && c.ffn == 256));
        CHECK(c.rescale_every == 0);
        CHECK(c.eos_ids == std::vector<int32_t>{0});
    }
    SECTION("RWKV-4, Hugging Face") {
        const RwkvConfig c = detect(tr::load_fixture(tr::fixtures() / "tiny-rwkv-4v0-660K-hf"));
        CHECK(c.naming == Naming::hugging_face);
        CHECK(c.version == Version::v4);
        CHECK(c.raw_decay);
        CHECK((c.hidden == 128 && c.layers == 4 && c.ffn == 256));
        CHECK(c.rescale_every == 6);
        CHECK_FALSE(c.tied_head);
    }
    SECTION("RWKV 5.2") {
        const RwkvConfig c =
            detect(tr::load_fixture(tr::fixtures() / "tiny-rwkv-5v2-730K.safetensors"));
        CHECK(c.version == Version::v5_2);
        CHECK((c.hidden == 64 && c.layers == 12 && c.ffn == 256));
        CHECK((c.heads == 8 && c.head_size == 8));
        CHECK(c.variant() == "5.2");
    }
    SECTION("RWKV-6") {
        const RwkvConfig c =
            detect(tr::load_fixture(tr::fixtures() / "tiny-rwkv-6v0-1m.safetensors"));
        CHECK(c.version == Version::v6);
        CHECK((c.hidden == 64 && c.ffn == 224 && c.heads == 8 && c.head_size == 8));
        CHECK((c.mix_rank == 32 && c.decay_rank == 64));
    }
    SECTION("RWKV-7") {
        const RwkvConfig c =
            detect(tr::load_fixture(tr::fixtures() / "tiny-rwkv-7v0-834K.safetensors"));
        CHECK(c.version == Version::v7);
        CHECK((c.hidden == 64 && c.layers == 12 && c.ffn == 256));
        CHECK((c.heads == 1 && c.head_size == 64));
        CHECK((c.w_rank == 32 && c.a_rank == 32 && c.v_rank == 32 && c.g_rank == 32));
    }
}

TEST_CASE("rwkv config: bad checkpoints give clear errors", "[rwkv][shared]") {
    const tr::Fixture f = tr::load_fixture(tr::fixtures() / "tiny-rwkv-6v0-1m.safetensors");
    auto w = tr::to_map(f);
    SECTION("a missing tensor") {
        w.erase("blocks.2.att.value.weight");
        const std::string e = open_error(w, nullptr, Errc::not_found);
        CHECK(contains(e, "blocks.2.att.value.weight"));
    }
    SECTION("a wrong shape") {
        w.put("blocks.1.ffn.key.weight", {223, 64}, std::vector<float>(223 * 64));
        const std::string e = open_error(w, nullptr, Errc::bad_format);
        CHECK(contains(e, "blocks.1.ffn.key.weight"));
        CHECK(contains(e, "[223, 64]"));
        CHECK(contains(e, "[224, 64]"));
    }
    SECTION("a low-rank matrix in the .pth layout") {
        w.put("blocks.0.att.time_maa_w1", {64, 160}, std::vector<float>(64 * 160));
        const std::string e = open_error(w, nullptr, Errc::bad_format);
        CHECK(contains(e, "time_maa_w1"));
        CHECK(contains(e, "convert_pytorch_to_ggml.py"));
    }
    SECTION("no embedding") {
        w.erase("emb.weight");
        CHECK(contains(open_error(w, nullptr, Errc::not_found), "emb.weight"));
    }
    SECTION("no head") {
        w.erase("head.weight");
        CHECK(contains(open_error(w, nullptr, Errc::not_found), "head.weight"));
    }
    SECTION("RWKV 5.0 / 5.1 is refused") {
        const tr::Fixture f5 = tr::load_fixture(tr::fixtures() / "tiny-rwkv-5v2-730K.safetensors");
        auto w5 = tr::to_map(f5);
        w5.erase("blocks.0.att.gate.weight");
        CHECK(contains(open_error(w5, nullptr, Errc::unsupported), "v5.0"));
    }
}

TEST_CASE("rwkv config: a config.json that disagrees with the tensors", "[rwkv][shared]") {
    const tr::Fixture f = tr::load_fixture(tr::fixtures() / "tiny-rwkv-4v0-660K-hf");
    REQUIRE(f.config);
    struct Edit {
        const char* key;
        nlohmann::json value;
        const char* says;
    };
    const Edit edits[] = {
        {"hidden_size", 64, "hidden_size 64"},
        {"vocab_size", 50277, "vocab_size 50277"},
        {"num_hidden_layers", 5, "num_hidden_layers 5"},
        {"intermediate_size", 512, "intermediate_size 512"},
        {"attention_hidden_size", 64, "attention_hidden_size 64"},
        {"eos_token_id", 300, "eos_token_id 300"},
        {"layer_norm_epsilon", "small", "layer_norm_epsilon"},
    };
    for (const Edit& e : edits) {
        SECTION(e.key) {
            nlohmann::json c = *f.config;
            c[e.key] = e.value;
            CHECK(contains(open_error(*f.weights, &c, Errc::bad_format), e.says));
        }
    }
    SECTION("eos_token_id, rescale_every and tie_word_embeddings are read") {
        nlohmann::json c = *f.config;
        c["eos_token_id"] = nlohmann::json::array({3, 7});
        c["rescale_every"] = 2;
        c["tie_word_embeddings"] = true;
        auto r = model::rwkv::detect_config(&c, *f.weights);
        REQUIRE(r.ok());
        CHECK(r->eos_ids == std::vector<int32_t>{3, 7});
        CHECK(r->rescale_every == 2);
        CHECK(r->tied_head);
    }
}

TEST_CASE("rwkv family: what it claims", "[rwkv][shared]") {
    CHECK(model::rwkv::claims_config(nlohmann::json{{"model_type", "rwkv"}}));
    CHECK(model::rwkv::claims_config(
        nlohmann::json{{"architectures", nlohmann::json::array({"RwkvForCausalLM"})}}));
    CHECK_FALSE(model::rwkv::claims_config(nlohmann::json{{"model_type", "llama"}}));
    CHECK_FALSE(model::rwkv::claims_config(nlohmann::json::array()));
    for (const char* file : {"tiny-rwkv-4v0-660K.safetensors", "tiny-rwkv-4v0-660K-hf",
                             "tiny-rwkv-7v0-834K.safetensors"}) {
        CHECK(model::rwkv::claims_tensors(*tr::load_fixture(tr::fixtures() / file).weights));
    }
    const auto llama = sutra::test::model::tiny_weights(sutra::test::model::tiny_config());
    CHECK_FALSE(model::rwkv::claims_tensors(llama));
}
