#include "sutra/model/mamba/mamba_family.hpp"

#include <string>

#include "sutra/model/mamba/mamba_config.hpp"
#include "sutra/model/mamba/mamba_model.hpp"

namespace sutra::model::mamba {

bool claims_config(const nlohmann::json& config) {
    if (!config.is_object()) return false;
    if (auto it = config.find("model_type"); it != config.end() && it->is_string()) {
        if (it->get_ref<const std::string&>() == "mamba") return true;
    }
    if (auto it = config.find("architectures"); it != config.end() && it->is_array()) {
        for (const auto& a : *it)
            if (a.is_string() && a.get_ref<const std::string&>() == "MambaForCausalLM") return true;
    }
    return is_original_config(config);
}

bool claims_tensors(const WeightSource& weights) {
    return weights.has("backbone.layers.0.mixer.in_proj.weight") &&
           (weights.has("backbone.embeddings.weight") || weights.has("backbone.embedding.weight"));
}

Result<std::unique_ptr<Model>> open(const nlohmann::json* config, const WeightSource& weights,
                                    const ModelOptions& options) {
    SUTRA_ASSIGN(MambaConfig cfg, detect_config(config, weights));
    SUTRA_ASSIGN(std::unique_ptr<MambaModel> m, MambaModel::create(cfg, weights, options));
    return std::unique_ptr<Model>(std::move(m));
}

}  // namespace sutra::model::mamba
