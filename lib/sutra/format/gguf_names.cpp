#include "sutra/format/gguf_names.hpp"

#include <array>
#include <charconv>
#include <utility>

namespace sutra::format {

Result<std::string> gguf_architecture(const std::string& model_type) {
    if (model_type == "llama" || model_type == "mistral") return std::string("llama");
    if (model_type == "qwen2") return std::string("qwen2");
    if (model_type == "qwen3") return std::string("qwen3");
    return make_error(Errc::unsupported, "GGUF export: model_type \"" + model_type +
                                             "\" has no llama.cpp architecture sutra writes "
                                             "(llama, mistral, qwen2, qwen3)");
}

bool gguf_arch_permutes_qk(std::string_view arch) {
    return arch == "llama";
}

std::optional<GgufName> gguf_tensor_name(std::string_view n) {
    if (n == "model.embed_tokens.weight") return GgufName{"token_embd.weight"};
    if (n == "model.norm.weight") return GgufName{"output_norm.weight"};
    if (n == "lm_head.weight") return GgufName{"output.weight"};
    constexpr std::string_view prefix = "model.layers.";
    if (!n.starts_with(prefix)) return std::nullopt;
    n.remove_prefix(prefix.size());
    const size_t dot = n.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot > 6) return std::nullopt;
    int block = 0;
    const auto [p, ec] = std::from_chars(n.data(), n.data() + dot, block);
    if (ec != std::errc() || p != n.data() + dot || (dot > 1 && n[0] == '0')) return std::nullopt;
    const std::string_view rest = n.substr(dot + 1);
    struct Row {
        std::string_view hf, gguf;
        QkPermute permute;
    };
    static constexpr std::array<Row, 19> rows = {{
        {"input_layernorm.weight", "attn_norm.weight", QkPermute::none},
        {"self_attn.q_proj.weight", "attn_q.weight", QkPermute::q},
        {"self_attn.q_proj.bias", "attn_q.bias", QkPermute::q},
        {"self_attn.k_proj.weight", "attn_k.weight", QkPermute::k},
        {"self_attn.k_proj.bias", "attn_k.bias", QkPermute::k},
        {"self_attn.v_proj.weight", "attn_v.weight", QkPermute::none},
        {"self_attn.v_proj.bias", "attn_v.bias", QkPermute::none},
        {"self_attn.o_proj.weight", "attn_output.weight", QkPermute::none},
        {"self_attn.o_proj.bias", "attn_output.bias", QkPermute::none},
        {"self_attn.q_norm.weight", "attn_q_norm.weight", QkPermute::none},
        {"self_attn.k_norm.weight", "attn_k_norm.weight", QkPermute::none},
        {"post_attention_layernorm.weight", "ffn_norm.weight", QkPermute::none},
        {"mlp.gate_proj.weight", "ffn_gate.weight", QkPermute::none},
        {"mlp.up_proj.weight", "ffn_up.weight", QkPermute::none},
        {"mlp.down_proj.weight", "ffn_down.weight", QkPermute::none},
        {"mlp.gate_proj.bias", "ffn_gate.bias", QkPermute::none},
        {"mlp.up_proj.bias", "ffn_up.bias", QkPermute::none},
        {"mlp.down_proj.bias", "ffn_down.bias", QkPermute::none},
        {"self_attn.rotary_emb.inv_freq", "", QkPermute::none},
    }};
    for (const auto& r : rows) {
        if (r.hf != rest) continue;
        if (r.gguf.empty()) return std::nullopt;
        return GgufName{"blk." + std::to_string(block) + "." + std::string(r.gguf), block,
                        r.permute};
    }
    return std::nullopt;
}

uint64_t permuted_source_row(uint64_t out_row, uint64_t rows, uint64_t n_head) {
    const uint64_t d = rows / n_head;  // rows per head
    const uint64_t half = d / 2;
    const uint64_t h = out_row / d;
    const uint64_t r = out_row % d;  // = 2i + j
    const uint64_t i = r / 2, j = r % 2;
    return h * d + j * half + i;
}

}  // namespace sutra::format
