#pragma once
// The Mamba-1 family (model/mamba/mamba_model.hpp) as the family registry sees it. Two
// namings are read (mamba_config.hpp):
//   - Hugging Face MambaForCausalLM (config.json model_type "mamba"; state-spaces/mamba-*-hf):
//     backbone.embeddings.weight, backbone.layers.N.{norm, mixer.*}, backbone.norm_f,
//     lm_head.weight or tied;
//   - the original state-spaces/mamba-* checkpoints: backbone.embedding.weight, their
//     config.json (d_model, n_layer, vocab_size, ssm_cfg, pad_vocab_size_multiple).
// Without config.json the sizes come from the tensors.
// Linear names: "mixer.in_proj", "mixer.x_proj", "mixer.dt_proj", "mixer.out_proj"; layer -1
// "lm_head". ModelInfo: variant "1"; bos_id and eos_ids from config.json's bos_token_id /
// eos_token_id (transformers' defaults 0 / 0 when absent, and for the original config.json).
#include <memory>
#include <nlohmann/json.hpp>

#include "sutra/base/error.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model::mamba {

// model_type "mamba", architectures naming MambaForCausalLM, or the original config.json
// (no model_type; d_model, n_layer).
bool claims_config(const nlohmann::json& config);
// backbone.layers.0.mixer.in_proj.weight with backbone.embeddings.weight (Hugging Face) or
// backbone.embedding.weight (original).
bool claims_tensors(const WeightSource& weights);
// config may be null; when given, it must agree with the tensors. Every tensor is checked.
Result<std::unique_ptr<Model>> open(const nlohmann::json* config, const WeightSource& weights,
                                    const ModelOptions& options);

}  // namespace sutra::model::mamba
