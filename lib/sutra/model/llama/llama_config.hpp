#pragma once
// The hyper-parameters of a Llama-family model, read from a Hugging Face `config.json`.
//
// Supported architectures (model_type / architectures; the decoder block they share: RMSNorm,
// rotary embeddings in the rotate_half layout, grouped-query attention, SwiGLU MLP):
//   llama    LlamaForCausalLM    Llama 1/2/3/3.1/3.2 (and TinyLlama, stories): rope_scaling
//                                none, "linear" or "llama3"; attention_bias gives q/k/v/o
//                                biases; tied or untied head.
//   mistral  MistralForCausalLM  Mistral 7B v0.1-v0.3: sliding_window (absent: 4096, as in
//                                transformers; null: full attention), explicit head_dim.
//   qwen2    Qwen2ForCausalLM    Qwen2, Qwen2.5 (dense): q/k/v biases always, no o bias;
//                                full attention only (use_sliding_window true with sliding
//                                layers is refused).
//   qwen3    Qwen3ForCausalLM    Qwen3 (dense): per-head RMSNorm q_norm/k_norm on q and k after
//                                the projection and before RoPE; explicit head_dim (default
//                                128); attention_bias gives q/k/v/o biases; full attention only.
// Everything else is refused with an `unsupported` error that names the value and what is
// supported: another model_type (gemma, phi3, gpt2, mixtral, qwen2_moe, ...), architectures
// that do not match the model_type, hidden_act other than silu, mlp_bias true, rope types
// other than default/linear/llama3 (dynamic, yarn, longrope, ...), partial_rotary_factor != 1,
// per-layer rope parameters, sliding-window layers in qwen2/qwen3, and checkpoints that are
// already quantized (quantization_config).
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"

namespace sutra::model {

// How rotary frequencies are rescaled (`rope_scaling` in config.json).
enum class RopeScaling {
    none,    // absent, null, or rope_type "default"
    linear,  // positions divided by `factor`
    llama3,  // Llama 3.1+ frequency-dependent rescaling
};

struct LlamaConfig {
    std::string model_type;           // "llama", "mistral", "qwen2" or "qwen3"
    int64_t hidden_size = 0;          // width of the residual stream
    int64_t intermediate_size = 0;    // width of the SwiGLU hidden layer
    int64_t num_hidden_layers = 0;    // number of decoder blocks
    int64_t num_attention_heads = 0;  // query heads
    int64_t num_key_value_heads = 0;  // key/value heads (default: num_attention_heads)
    int64_t head_dim = 0;  // default: hidden_size / num_attention_heads (qwen3: 128); even
    int64_t vocab_size = 0;
    int64_t max_position_embeddings = 0;  // 0 when config.json does not say
    double rms_norm_eps = 1e-6;
    double rope_theta = 10000.0;
    RopeScaling rope_scaling = RopeScaling::none;
    double rope_factor = 1.0;                   // linear and llama3
    double rope_low_freq_factor = 1.0;          // llama3
    double rope_high_freq_factor = 4.0;         // llama3
    int64_t rope_original_max_position = 8192;  // llama3
    int64_t sliding_window = 0;  // 0: full causal attention; else keys with q_pos - k_pos < w
    // The head is model.embed_tokens.weight (lm_head.weight, if present, is not used, as in
    // transformers); when false, lm_head.weight is required.
    bool tie_word_embeddings = false;
    // Whether q/k/v projections carry a bias: always for qwen2; `attention_bias` for llama
    // and qwen3; never for mistral. Exactly the biases the config implies are used (a bias
    // tensor the config does not imply is an error, not silently used or dropped).
    bool attention_bias = false;
    bool o_bias = false;                 // o_proj bias: `attention_bias` for llama and qwen3
    bool qk_norm = false;                // qwen3: self_attn.q_norm / k_norm weights [head_dim]
    int64_t bos_token_id = -1;           // -1 when absent
    std::vector<int64_t> eos_token_ids;  // config.json may give one id or a list

    int64_t q_width() const { return num_attention_heads * head_dim; }
    int64_t kv_width() const { return num_key_value_heads * head_dim; }
};

// Parses the JSON of a config.json. `what` names the document in messages. Errors:
// bad_format for a missing or mistyped field (the message names it), invalid_argument for
// inconsistent values (heads not dividing, odd head_dim, ...), unsupported for anything in
// the list at the top of this file.
Result<LlamaConfig> parse_llama_config(const nlohmann::json& j, const std::string& what);

// Reads `path` (a config.json file, or a folder holding one) and parses it.
Result<LlamaConfig> read_llama_config(const std::filesystem::path& path);

}  // namespace sutra::model
