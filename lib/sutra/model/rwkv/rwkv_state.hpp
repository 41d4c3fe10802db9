#pragma once
// The recurrent state of an RWKV sequence, per layer:
//   att_shift, ffn_shift [C]  the ln1 / ln2 output of the last token seen (token shift)
//   v4:   aa, bb [C], pp [C]  numerator, denominator and their common exponent of the wkv
//                             average (start: 0, 0, -1e30)
//   v5.2, v6: wkv [H, S, S]   S[h][i][j], i the key channel, j the value channel
//   v7:   wkv [H, S, S]       S[h][i][j], i the value channel, j the key channel
// and, for RWKV-7, the values v of block 0 (the "value residual" every later block mixes in) of
// the tokens that block 0 has seen and some later block has not yet.
#include <cstdint>
#include <vector>

#include "sutra/model/family.hpp"
#include "sutra/model/rwkv/rwkv_config.hpp"

namespace sutra::model::rwkv {

struct LayerState {
    int64_t seen = 0;  // tokens this layer has consumed
    std::vector<float> att_shift, ffn_shift;
    std::vector<float> aa, bb, pp;
    std::vector<float> wkv;
};

// A layer's state before any token.
LayerState initial_layer_state(const RwkvConfig& cfg);

class RwkvState final : public SequenceState {
  public:
    explicit RwkvState(const RwkvConfig& cfg);
    int64_t position() const override { return layers.empty() ? 0 : layers.back().seen; }

    std::vector<LayerState> layers;
    // RWKV-7: block 0's v [rows, C] of the positions [v_first_begin, v_first_begin + rows).
    std::vector<float> v_first;
    int64_t v_first_begin = 0;
};

}  // namespace sutra::model::rwkv
