#pragma once
// The recurrent state of one Mamba sequence: per layer, the conv window (the last d_conv - 1
// inputs of the causal conv) and the SSM state h [d_inner, d_state], and how many tokens the
// layer has consumed. Zeros before the first token, as in transformers' MambaCache.
#include <cstdint>
#include <vector>

#include "sutra/model/family.hpp"
#include "sutra/model/mamba/mamba_config.hpp"
#include "sutra/model/mamba/mamba_mixer.hpp"

namespace sutra::model::mamba {

class MambaState final : public SequenceState {
  public:
    explicit MambaState(const MambaConfig& c)
        : layers(static_cast<size_t>(c.layers), initial_layer_state(c)) {}
    // Tokens the last layer has consumed.
    int64_t position() const override { return layers.empty() ? 0 : layers.back().seen; }

    std::vector<LayerState> layers;
};

}  // namespace sutra::model::mamba
