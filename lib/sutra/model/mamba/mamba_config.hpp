#pragma once
// What a Mamba-1 checkpoint is: its naming, sizes and conventions, from config.json when there
// is one, else from the tensors' shapes (every tensor is then checked against these sizes by
// check_tensors, mamba_tensors.hpp).
//
// Two config.json dialects:
//   - Hugging Face MambaConfig (model_type "mamba", MambaForCausalLM): hidden_size,
//     num_hidden_layers, vocab_size, state_size (16), conv_kernel (4), expand (2),
//     intermediate_size (expand * hidden_size), time_step_rank ("auto": ceil(hidden / 16)),
//     layer_norm_epsilon (1e-5), use_bias (false), use_conv_bias (true), hidden_act ("silu"),
//     tie_word_embeddings (true), bos_token_id / eos_token_id (0 / 0); defaults as transformers'.
//   - the original state-spaces MambaConfig (mamba_ssm; no model_type): d_model, n_layer,
//     vocab_size rounded up to a multiple of pad_vocab_size_multiple (8), ssm_cfg {d_state 16,
//     d_conv 4, expand 2, dt_rank "auto", conv_bias true, bias false, layer "Mamba1"},
//     rms_norm (must be true), norm_epsilon (1e-5), tie_embeddings (true); no special ids in it,
//     so BOS and EOS are 0 (<|endoftext|> of the GPT-NeoX tokenizer these models use).
// Without config.json the sizes come from block 0's tensors, the biases from their presence,
// the head from the presence of lm_head.weight; eps 1e-5, BOS and EOS 0.
//
// Tensor names: backbone.embeddings.weight (Hugging Face) or backbone.embedding.weight
// (original), backbone.layers.N.{norm.weight, mixer.*}, backbone.norm_f.weight, lm_head.weight.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model::mamba {

enum class Naming {
    hugging_face,  // backbone.embeddings.weight
    original,      // backbone.embedding.weight (state-spaces/mamba-*)
};

struct MambaConfig {
    Naming naming = Naming::hugging_face;
    int64_t hidden = 0;   // d_model
    int64_t inner = 0;    // d_inner = expand * d_model
    int64_t state = 0;    // d_state, N
    int64_t conv = 0;     // d_conv, K
    int64_t dt_rank = 0;  // R
    int64_t layers = 0;
    int64_t vocab = 0;  // rows of the embedding (padded for the original naming)
    double eps = 1e-5;
    bool bias = false;      // in_proj and out_proj biases (use_bias / ssm_cfg.bias)
    bool conv_bias = true;  // conv1d bias (use_conv_bias / ssm_cfg.conv_bias)
    bool tied = true;       // the head is the embedding table
    int32_t bos_id = 0;
    std::vector<int32_t> eos_ids{0};
    // What the sizes come from, for messages: "config.json" or "block 0's tensors".
    std::string source = "config.json";

    int64_t x_proj_out() const { return dt_rank + 2 * state; }
    std::string embedding_tensor() const;
    std::string head_tensor() const;  // lm_head.weight, or the embedding when tied
    // "backbone.layers.{layer}.{suffix}".
    static std::string layer_tensor(int layer, std::string_view suffix);
};

// The naming of the checkpoint's tensors, the sizes and conventions (see the file comment).
// `config` null: from the tensors. not_found when the embedding or a tensor of block 0 that a
// size is read from is missing; bad_format for a config.json field of the wrong type or range,
// or one that disagrees with the embedding or the block count; unsupported for what sutra
// does not run (Mamba-2, LayerNorm instead of RMSNorm, an activation other than SiLU, hybrid
// attention layers).
Result<MambaConfig> detect_config(const nlohmann::json* config, const WeightSource& weights);

// The original config.json layout (d_model, n_layer, ssm_cfg; no model_type).
bool is_original_config(const nlohmann::json& config);

std::string shape_str(const std::vector<uint64_t>& shape);

}  // namespace sutra::model::mamba
