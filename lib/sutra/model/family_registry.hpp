#pragma once
// The model families sutra knows, and how a model is opened: the family is the one whose
// config.json (model_type / architectures) it claims, or, for files without config.json
// (rwkv.cpp / BlinkDL safetensors), the one that claims the tensor names. Each family lives in
// its own folder (model/llama, model/rwkv, model/mamba) and registers one FamilyEntry in
// family_registry.cpp; nothing outside model/ names a family.
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string_view>

#include "sutra/base/error.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model {

struct FamilyEntry {
    std::string_view name;  // "llama", "rwkv", "mamba"
    // What the README and errors list as supported, e.g. "rwkv (RwkvForCausalLM; rwkv.cpp
    // names v4, v5.2, v6, v7)".
    std::string_view supported;
    // Whether config.json names this family (model_type or architectures).
    bool (*claims_config)(const nlohmann::json& config);
    // Without config.json: whether the tensor names are this family's.
    bool (*claims_tensors)(const WeightSource& weights);
    // Opens the model. `config` is config.json's document, or null when there is none (the
    // family then reads everything from the tensors' names and shapes, or refuses with
    // not_found naming config.json). Checks every tensor it will use (presence, shape) before
    // returning; `weights` must outlive the model.
    Result<std::unique_ptr<Model>> (*open)(const nlohmann::json* config,
                                           const WeightSource& weights,
                                           const ModelOptions& options);
};

std::span<const FamilyEntry> families();

// The family of a model: by config.json when given, else by tensor names. unsupported (listing
// what is) when none claims it.
Result<const FamilyEntry*> detect_family(const nlohmann::json* config, const WeightSource& weights,
                                         std::string_view what);

// detect_family + open.
Result<std::unique_ptr<Model>> open_family_model(const nlohmann::json* config,
                                                 const WeightSource& weights,
                                                 const ModelOptions& options,
                                                 std::string_view what);

}  // namespace sutra::model
