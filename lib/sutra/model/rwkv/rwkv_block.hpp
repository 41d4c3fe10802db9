#pragma once
// One RWKV block on T consecutive tokens of one sequence, in place on the residual stream:
//   x += time_mix(ln1(x));  x += channel_mix(ln2(x))
// Hugging Face checkpoints (rescale_every = R > 0, as transformers runs them at inference):
// both sub-layer outputs of block b are divided by 2^(b / R) (transformers divides
// attention.output and feed_forward.value; the result is the same bit for bit), and x is halved
// after blocks R-1, 2R-1, ...
#include "sutra/model/family.hpp"
#include "sutra/model/rwkv/rwkv_config.hpp"
#include "sutra/model/rwkv/rwkv_ops.hpp"
#include "sutra/model/rwkv/rwkv_state.hpp"
#include "sutra/model/rwkv/rwkv_tensors.hpp"

namespace sutra::model::rwkv {

// x [T, C] (T >= 1); s is advanced by T tokens. v_first: RWKV-7 only (see time_mix_v7).
void run_layer(const RwkvConfig& c, const BlockWeights& w, Activations& x, LayerState& s,
               const Linears& lin, Vec& v_first);

// The two halves: out [T, C] = time_mix(ln1(x)) and channel_mix(ln2(x)), each rescaled as
// above (not added to x; not halved).
void time_mix_out(const RwkvConfig& c, const BlockWeights& w, const float* x, int64_t T,
                  LayerState& s, const Linears& lin, Vec& v_first, float* out);
void channel_mix_out(const RwkvConfig& c, const BlockWeights& w, const float* x, int64_t T,
                     LayerState& s, const Linears& lin, float* out);

}  // namespace sutra::model::rwkv
