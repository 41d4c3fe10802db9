#pragma once
// Hugging Face tensor names and layouts -> llama.cpp's, as its converter
// (convert_hf_to_gguf.py: LlamaModel, Qwen2Model, Qwen3Model; gguf-py tensor_mapping.py)
// writes them (format/GGUF.md, "Tensor names"):
//
//   model.embed_tokens.weight                    token_embd.weight
//   model.norm.weight                            output_norm.weight
//   lm_head.weight                               output.weight (absent when tied: llama.cpp
//                                                then uses token_embd.weight as the head)
//   model.layers.N.input_layernorm.weight        blk.N.attn_norm.weight
//   model.layers.N.self_attn.{q,k,v}_proj.{weight,bias}  blk.N.attn_{q,k,v}.{weight,bias}
//   model.layers.N.self_attn.o_proj.{weight,bias}        blk.N.attn_output.{weight,bias}
//   model.layers.N.self_attn.{q,k}_norm.weight   blk.N.attn_{q,k}_norm.weight   (Qwen3)
//   model.layers.N.post_attention_layernorm.weight       blk.N.ffn_norm.weight
//   model.layers.N.mlp.{gate,up,down}_proj.weight        blk.N.ffn_{gate,up,down}.weight
//
// Architectures: "llama" for llama and mistral (Hugging Face MistralForCausalLM is converted
// by LlamaModel), "qwen2", "qwen3". For "llama" the q and k projections (weights and biases)
// have their rows permuted from Hugging Face's rotate-half RoPE layout back to the
// interleaved-pairs layout llama.cpp's LLAMA rope uses (LlamaModel.permute); qwen2 and qwen3
// use llama.cpp's NEOX rope, which is the rotate-half layout, and are written unpermuted.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sutra/base/error.hpp"

namespace sutra::format {

// "llama" for model_type llama or mistral, "qwen2", "qwen3"; unsupported otherwise.
Result<std::string> gguf_architecture(const std::string& model_type);

enum class QkPermute { none, q, k };

struct GgufName {
    std::string name;                     // llama.cpp name
    int block = -1;                       // N of blk.N, -1 for the others
    QkPermute permute = QkPermute::none;  // before the architecture is taken into account
};

// The llama.cpp name of a Hugging Face tensor; nullopt for a name llama.cpp has no place
// for (the caller decides: e.g. rotary_emb.inv_freq is skipped, as the converter skips it).
std::optional<GgufName> gguf_tensor_name(std::string_view hf_name);

// Whether tensors of `arch` get the q/k row permutation.
bool gguf_arch_permutes_qk(std::string_view arch);

// LlamaModel.permute(w, n_head): w.reshape(n_head, 2, rows / n_head / 2, ...)
// .swapaxes(1, 2).reshape(w.shape), i.e. within each head of d = rows / n_head rows, output
// row 2i + j is input row j * d/2 + i (i < d/2, j < 2). Returns the input row of output row
// `out_row`; rows must be a multiple of 2 * n_head (checked by the caller).
uint64_t permuted_source_row(uint64_t out_row, uint64_t rows, uint64_t n_head);

}  // namespace sutra::format
