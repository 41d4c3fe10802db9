// Hugging Face -> llama.cpp tensor names, the q/k row permutation, and the type rules.
#include <catch2/catch.hpp>

#include "sutra/format/gguf_mix.hpp"
#include "sutra/format/gguf_names.hpp"

using namespace sutra;
using namespace sutra::format;
using quant::GgmlType;

TEST_CASE("gguf names: the llama.cpp name of every tensor of the families", "[gguf]") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"model.embed_tokens.weight", "token_embd.weight"},
        {"model.norm.weight", "output_norm.weight"},
        {"lm_head.weight", "output.weight"},
        {"model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight"},
        {"model.layers.3.self_attn.q_proj.weight", "blk.3.attn_q.weight"},
        {"model.layers.3.self_attn.k_proj.weight", "blk.3.attn_k.weight"},
        {"model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight"},
        {"model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight"},
        {"model.layers.12.self_attn.q_proj.bias", "blk.12.attn_q.bias"},
        {"model.layers.12.self_attn.k_proj.bias", "blk.12.attn_k.bias"},
        {"model.layers.12.self_attn.v_proj.bias", "blk.12.attn_v.bias"},
        {"model.layers.1.self_attn.q_norm.weight", "blk.1.attn_q_norm.weight"},
        {"model.layers.1.self_attn.k_norm.weight", "blk.1.attn_k_norm.weight"},
        {"model.layers.4.post_attention_layernorm.weight", "blk.4.ffn_norm.weight"},
        {"model.layers.4.mlp.gate_proj.weight", "blk.4.ffn_gate.weight"},
        {"model.layers.4.mlp.up_proj.weight", "blk.4.ffn_up.weight"},
        {"model.layers.4.mlp.down_proj.weight", "blk.4.ffn_down.weight"},
    };
    for (const auto& [hf, gg] : cases) {
        auto n = gguf_tensor_name(hf);
        INFO(hf);
        REQUIRE(n);
        CHECK(n->name == gg);
    }
    CHECK(gguf_tensor_name("model.layers.3.self_attn.q_proj.weight")->permute == QkPermute::q);
    CHECK(gguf_tensor_name("model.layers.3.self_attn.k_proj.bias")->permute == QkPermute::k);
    CHECK(gguf_tensor_name("model.layers.3.self_attn.v_proj.weight")->permute == QkPermute::none);
    CHECK(gguf_tensor_name("model.layers.7.mlp.up_proj.weight")->block == 7);
    CHECK_FALSE(gguf_tensor_name("model.layers.0.self_attn.rotary_emb.inv_freq"));
    CHECK_FALSE(gguf_tensor_name("model.layers.x.mlp.up_proj.weight"));
    CHECK_FALSE(gguf_tensor_name("model.layers.01.mlp.up_proj.weight"));
    CHECK_FALSE(gguf_tensor_name("model.layers.0.mlp.experts.0.weight"));
    CHECK_FALSE(gguf_tensor_name("transformer.h.0.attn.c_attn.weight"));

    CHECK(*gguf_architecture("llama") == "llama");
    CHECK(*gguf_architecture("mistral") == "llama");
    CHECK(*gguf_architecture("qwen2") == "qwen2");
    CHECK(*gguf_architecture("qwen3") == "qwen3");
    CHECK_FALSE(gguf_architecture("gemma").ok());
    CHECK(gguf_arch_permutes_qk("llama"));
    CHECK_FALSE(gguf_arch_permutes_qk("qwen2"));
    CHECK_FALSE(gguf_arch_permutes_qk("qwen3"));
}

TEST_CASE("gguf names: the q/k permutation is LlamaModel.permute", "[gguf]") {
    // Two heads of 6 rows: reshape(2, 2, 3).swapaxes(1, 2) takes, in head h, rows
    // h*6 + [0, 3, 1, 4, 2, 5] (written out from the definition).
    const std::vector<uint64_t> want = {0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11};
    for (uint64_t r = 0; r < 12; ++r)
        CHECK(permuted_source_row(r, 12, 2) == want[r]);
    // A bijection for other sizes.
    for (uint64_t heads : {1, 4, 8})
        for (uint64_t d : {2, 8, 64}) {
            std::vector<int> seen(heads * d, 0);
            for (uint64_t r = 0; r < heads * d; ++r)
                ++seen[permuted_source_row(r, heads * d, heads)];
            CHECK(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));
        }
}

TEST_CASE("gguf types: requests, llama.cpp's head rule, mixes and fallbacks", "[gguf]") {
    auto req = [](const std::string& s) {
        auto r = parse_gguf_type_request(s);
        INFO(s);
        REQUIRE(r.ok());
        return *r;
    };
    auto pick = [](const GgufTypeRequest& r, const std::string& name, uint64_t cols, int block = -1,
                   bool head = false, int bits = 0, bool f16 = false) {
        GgufTensorFacts f;
        f.name = name;
        f.block = block;
        f.cols = cols;
        f.two_d = true;
        f.is_head = head;
        f.qbin_bits = bits;
        f.raw_f16 = f16;
        return choose_gguf_type(r, f, 32);
    };
    CHECK(req("q4_k_m").mix == GgufMix::q4_k_m);
    CHECK(req("q8_0").base == GgmlType::Q8_0);
    CHECK(req("").by_qbin);
    auto bad = parse_gguf_type_request("Q4_K_X");
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error().message, Catch::Contains("Q4_K_M"));

    // 1-D tensors are F32 whatever the request.
    GgufTensorFacts norm;
    norm.name = "blk.0.attn_norm.weight";
    norm.cols = 4096;
    CHECK(choose_gguf_type(req("Q4_0"), norm, 32).type == GgmlType::F32);

    // Plain types; the head Q6_K (Q8_0 for Q8_0 or a width that does not fit).
    CHECK(pick(req("Q4_0"), "blk.0.attn_q.weight", 4096).type == GgmlType::Q4_0);
    CHECK(pick(req("Q4_0"), "output.weight", 4096, -1, true).type == GgmlType::Q6_K);
    CHECK(pick(req("Q8_0"), "output.weight", 4096, -1, true).type == GgmlType::Q8_0);
    CHECK(pick(req("Q4_K"), "token_embd.weight", 64, -1, true).type == GgmlType::Q8_0);
    CHECK(pick(req("Q4_0"), "token_embd.weight", 4096, -1, false).type == GgmlType::Q4_0);
    CHECK(pick(req("F16"), "output.weight", 4096, -1, true).type == GgmlType::F16);

    // Q4_K_M: attn_v and ffn_down Q6_K where use_more_bits(i, 32): i < 4, i >= 28,
    // (i - 4) % 3 == 2.
    const auto m = req("Q4_K_M");
    std::vector<int> more;
    for (int i = 0; i < 32; ++i)
        if (pick(m, "blk." + std::to_string(i) + ".attn_v.weight", 4096, i).type == GgmlType::Q6_K)
            more.push_back(i);
    CHECK(more == std::vector<int>{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31});
    CHECK(pick(m, "blk.6.ffn_down.weight", 11008, 6).type == GgmlType::Q6_K);
    CHECK(pick(m, "blk.7.ffn_down.weight", 11008, 7).type == GgmlType::Q4_K);
    CHECK(pick(m, "blk.6.attn_q.weight", 4096, 6).type == GgmlType::Q4_K);
    CHECK(pick(req("Q5_K_M"), "blk.7.attn_k.weight", 4096, 7).type == GgmlType::Q5_K);

    // Fallbacks as llama.cpp: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then F16.
    auto fb = pick(req("Q4_K"), "blk.0.attn_q.weight", 64);
    CHECK(fb.type == GgmlType::Q5_0);
    CHECK_THAT(fb.note, Catch::Contains("fallback Q4_K -> Q5_0"));
    CHECK(pick(req("Q5_K"), "blk.0.attn_q.weight", 64).type == GgmlType::Q5_1);
    CHECK(pick(req("Q6_K"), "blk.0.attn_q.weight", 96).type == GgmlType::Q8_0);
    CHECK(pick(req("Q4_K"), "blk.0.ffn_down.weight", 172).type == GgmlType::F16);
    CHECK(pick(req("Q4_0"), "blk.0.ffn_down.weight", 172).type == GgmlType::F16);
    CHECK(pick(req("Q4_0"), "blk.0.ffn_down.weight", 172).note.find("Q4_0 -> F16") !=
          std::string::npos);
    CHECK(pick(req("F32"), "blk.0.ffn_down.weight", 172).note.empty());

    // Default: from the .qbin.
    CHECK(pick(req(""), "blk.0.attn_q.weight", 64, 0, false, 8).type == GgmlType::Q8_0);
    CHECK(pick(req(""), "blk.0.attn_q.weight", 64, 0, false, 4).type == GgmlType::Q4_1);
    CHECK(pick(req(""), "blk.0.attn_q.weight", 64, 0, false, 3).type == GgmlType::Q4_1);
    CHECK(pick(req(""), "token_embd.weight", 64, -1, true, 0, true).type == GgmlType::F16);
    CHECK(pick(req(""), "token_embd.weight", 64, -1, true, 0, false).type == GgmlType::F32);
    CHECK(pick(req(""), "blk.0.ffn_down.weight", 172, 0, false, 4).type == GgmlType::F16);

    CHECK(gguf_file_type(req("Q4_K_M"), GgmlType::F32) == 15);
    CHECK(gguf_file_type(req("Q8_0"), GgmlType::F32) == 7);
    CHECK(gguf_file_type(req(""), GgmlType::Q4_1) == 3);
    CHECK(gguf_file_type(req("F16"), GgmlType::F32) == 1);
}
