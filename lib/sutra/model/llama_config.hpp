#pragma once
// The hyper-parameters of a Llama-family model, read from a Hugging Face `config.json`.
// Accepted `model_type`s: "llama", "mistral", "qwen2" (all share the decoder block: RMSNorm,
// rotary embeddings in the rotate_half layout, grouped-query attention, SwiGLU MLP).
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
    std::string model_type;           // "llama", "mistral" or "qwen2"
    int64_t hidden_size = 0;          // width of the residual stream
    int64_t intermediate_size = 0;    // width of the SwiGLU hidden layer
    int64_t num_hidden_layers = 0;    // number of decoder blocks
    int64_t num_attention_heads = 0;  // query heads
    int64_t num_key_value_heads = 0;  // key/value heads (default: num_attention_heads)
    int64_t head_dim = 0;             // default: hidden_size / num_attention_heads; even
    int64_t vocab_size = 0;
    int64_t max_position_embeddings = 0;  // 0 when config.json does not say
    double rms_norm_eps = 1e-6;
    double rope_theta = 10000.0;
    RopeScaling rope_scaling = RopeScaling::none;
    double rope_factor = 1.0;                   // linear and llama3
    double rope_low_freq_factor = 1.0;          // llama3
    double rope_high_freq_factor = 4.0;         // llama3
    int64_t rope_original_max_position = 8192;  // llama3
    int64_t sliding_window = 0;        // 0: full causal attention; else keys with q_pos - k_pos < w
    bool tie_word_embeddings = false;  // lm_head shares model.embed_tokens.weight
    // Whether q/k/v projections carry a bias: `attention_bias` when given, true for qwen2.
    // The forward pass also uses biases found in the weights when this is false.
    bool attention_bias = false;
    int64_t bos_token_id = -1;           // -1 when absent
    std::vector<int64_t> eos_token_ids;  // config.json may give one id or a list

    int64_t q_width() const { return num_attention_heads * head_dim; }
    int64_t kv_width() const { return num_key_value_heads * head_dim; }
};

// Parses the JSON of a config.json. `what` names the document in messages. Errors:
// bad_format for a missing or mistyped field (the message names it), invalid_argument for
// inconsistent values (heads not dividing, odd head_dim, ...), unsupported for another
// model_type, hidden_act, rope_scaling type, or mlp_bias.
Result<LlamaConfig> parse_llama_config(const nlohmann::json& j, const std::string& what);

// Reads `path` (a config.json file, or a folder holding one) and parses it.
Result<LlamaConfig> read_llama_config(const std::filesystem::path& path);

}  // namespace sutra::model
