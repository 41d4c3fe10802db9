#pragma once
// The RWKV family (v4, v5.2, v6, v7; model/rwkv/rwkv_model.hpp) as the family registry sees
// it. Two namings are read:
//   - Hugging Face RwkvForCausalLM (config.json model_type "rwkv"; RWKV-4): rwkv.embeddings,
//     rwkv.blocks.N.attention.* / .feed_forward.*, rwkv.ln_out, head; time_decay raw;
//     rescale_every honoured as transformers does at inference.
//   - rwkv.cpp / BlinkDL names (emb.weight, blocks.N.att.*, blocks.N.ffn.*, ln_out, head), no
//     config.json needed: version, sizes and heads come from the tensors (rwkv_config.hpp).
// Linear names (LinearObserver, linear_tensor): the in-block names of the checkpoint's naming
// without ".weight" ("att.key" / "attention.key", "ffn.value" / "feed_forward.value", v6/v7
// low-rank "att.time_decay_w1", "att.w1", ...); layer -1 "head" for the head.
// ModelInfo: bos_id -1 (RWKV starts from its initial state); eos_ids from config.json's
// eos_token_id, else {0} (transformers' RwkvConfig default and ChatRWKV's end of text).
#include <memory>
#include <nlohmann/json.hpp>

#include "sutra/base/error.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model::rwkv {

// model_type "rwkv" or architectures naming RwkvForCausalLM.
bool claims_config(const nlohmann::json& config);
// emb.weight + blocks.0.ln1.weight (rwkv.cpp / BlinkDL), or the Hugging Face names.
bool claims_tensors(const WeightSource& weights);
// config may be null (rwkv.cpp files); when given, it must agree with the tensors.
Result<std::unique_ptr<Model>> open(const nlohmann::json* config, const WeightSource& weights,
                                    const ModelOptions& options);

}  // namespace sutra::model::rwkv
