#include "sutra/model/rwkv/rwkv_family.hpp"

#include <string>

#include "sutra/model/rwkv/rwkv_config.hpp"
#include "sutra/model/rwkv/rwkv_model.hpp"

namespace sutra::model::rwkv {

bool claims_config(const nlohmann::json& config) {
    if (!config.is_object()) return false;
    if (auto it = config.find("model_type"); it != config.end() && it->is_string()) {
        if (it->get_ref<const std::string&>() == "rwkv") return true;
    }
    if (auto it = config.find("architectures"); it != config.end() && it->is_array()) {
        for (const auto& a : *it)
            if (a.is_string() && a.get_ref<const std::string&>() == "RwkvForCausalLM") return true;
    }
    return false;
}

bool claims_tensors(const WeightSource& weights) {
    return (weights.has("emb.weight") && weights.has("blocks.0.ln1.weight")) ||
           (weights.has("rwkv.embeddings.weight") && weights.has("rwkv.blocks.0.ln1.weight"));
}

Result<std::unique_ptr<Model>> open(const nlohmann::json* config, const WeightSource& weights,
                                    const ModelOptions& options) {
    SUTRA_ASSIGN(RwkvConfig cfg, detect_config(config, weights));
    SUTRA_ASSIGN(std::unique_ptr<RwkvModel> m, RwkvModel::create(cfg, weights, options));
    return std::unique_ptr<Model>(std::move(m));
}

}  // namespace sutra::model::rwkv
