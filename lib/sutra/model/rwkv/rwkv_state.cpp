#include "sutra/model/rwkv/rwkv_state.hpp"

namespace sutra::model::rwkv {

LayerState initial_layer_state(const RwkvConfig& cfg) {
    const auto C = static_cast<size_t>(cfg.hidden);
    LayerState s;
    s.att_shift.assign(C, 0.0f);
    s.ffn_shift.assign(C, 0.0f);
    if (cfg.version == Version::v4) {
        s.aa.assign(C, 0.0f);
        s.bb.assign(C, 0.0f);
        s.pp.assign(C, -1e30f);
    } else {
        s.wkv.assign(C * static_cast<size_t>(cfg.head_size), 0.0f);
    }
    return s;
}

RwkvState::RwkvState(const RwkvConfig& cfg)
    : layers(static_cast<size_t>(cfg.layers), initial_layer_state(cfg)) {}

}  // namespace sutra::model::rwkv
