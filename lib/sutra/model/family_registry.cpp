#include "sutra/model/family_registry.hpp"

#include <string>

#include "sutra/model/llama/llama_family.hpp"
#include "sutra/model/mamba/mamba_family.hpp"
#include "sutra/model/rwkv/rwkv_family.hpp"

namespace sutra::model {
namespace {

const FamilyEntry kFamilies[] = {
    {"llama",
     "llama (LlamaForCausalLM), mistral (MistralForCausalLM), qwen2 (Qwen2ForCausalLM), qwen3 "
     "(Qwen3ForCausalLM)",
     llama::claims_config, llama::claims_tensors, llama::open},
    {"rwkv", "rwkv (RwkvForCausalLM: RWKV-4; rwkv.cpp / BlinkDL names: RWKV v4, v5.2, v6, v7)",
     rwkv::claims_config, rwkv::claims_tensors, rwkv::open},
    {"mamba", "mamba (MambaForCausalLM; state-spaces mamba-* original checkpoints)",
     mamba::claims_config, mamba::claims_tensors, mamba::open},
};

std::string supported_list() {
    std::string s;
    for (const FamilyEntry& f : kFamilies)
        s += std::string(s.empty() ? "" : "; ") + std::string(f.supported);
    return s;
}

}  // namespace

std::span<const FamilyEntry> families() {
    return kFamilies;
}

Result<const FamilyEntry*> detect_family(const nlohmann::json* config, const WeightSource& weights,
                                         std::string_view what) {
    if (config) {
        for (const FamilyEntry& f : kFamilies)
            if (f.claims_config(*config)) return &f;
        std::string named = "no model_type";
        if (config->is_object())
            if (auto it = config->find("model_type"); it != config->end())
                named = "model_type " + it->dump();
        return make_error(Errc::unsupported,
                          std::string(what) + ": config.json has " + named +
                              ", which sutra does not run; supported: " + supported_list());
    }
    for (const FamilyEntry& f : kFamilies)
        if (f.claims_tensors(weights)) return &f;
    return make_error(Errc::unsupported,
                      std::string(what) +
                          ": no config.json and the tensor names are of no family sutra knows; "
                          "supported: " +
                          supported_list());
}

Result<std::unique_ptr<Model>> open_family_model(const nlohmann::json* config,
                                                 const WeightSource& weights,
                                                 const ModelOptions& options,
                                                 std::string_view what) {
    SUTRA_ASSIGN(const FamilyEntry* f, detect_family(config, weights, what));
    auto m = f->open(config, weights, options);
    if (!m) return make_error(m.error().code, std::string(what) + ": " + m.error().message);
    return std::move(*m);
}

}  // namespace sutra::model
