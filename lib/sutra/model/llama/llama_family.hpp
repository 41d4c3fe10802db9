#pragma once
// The Llama family (llama, mistral, qwen2, qwen3; model/llama.hpp) behind model::Model: the
// continued form keeps a KvCache per sequence, the whole-window form runs each window through
// the block with its weights loaded once. Linear names are the Hugging Face in-block names
// ("self_attn.q_proj", ..., "mlp.down_proj"; "lm_head" for the head).
#include <memory>
#include <nlohmann/json.hpp>

#include "sutra/base/error.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/llama/llama.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model::llama {

// model_type one of llama, mistral, qwen2, qwen3 (parse_llama_config says the rest).
bool claims_config(const nlohmann::json& config);
// A Hugging Face Llama-layout checkpoint (model.layers.0.self_attn.q_proj.weight) without
// config.json: claimed so that open() can say config.json is needed.
bool claims_tensors(const WeightSource& weights);
// config null: not_found (a Llama needs its config.json).
Result<std::unique_ptr<Model>> open(const nlohmann::json* config, const WeightSource& weights,
                                    const ModelOptions& options);

// A Model that runs `llama` (not owned: it must outlive the view).
std::unique_ptr<Model> view(Llama& llama);

// The Llama underneath a Model opened by open() (the Llama-specific AWQ and GPTQ blocks use
// it); null for a model of another family.
Llama* as_llama(Model& model);

}  // namespace sutra::model::llama
