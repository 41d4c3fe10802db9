#pragma once
// The channel-mix (feed-forward) sub-layer. xn = ln2(x) [T, C], prev_t the previous token's xn
// (ffn_shift for t = 0); out [T, C] before the residual add; ffn_shift advances.
//
//   v4, v5.2: xk = xn*mix_k + prev*(1-mix_k), xr likewise      (time_mix_k / time_mix_r)
//   v6:       xk = xn + (prev-xn)*mix_k, xr likewise            (time_maa_k / time_maa_r)
//   v7:       xk = xn + (prev-xn)*x_k
//   out = sigmoid(xr Wr^T) * (relu(xk Wk^T)^2 Wv^T)               (v7: no receptance gate)
#include <cstdint>

#include "sutra/model/rwkv/rwkv_config.hpp"
#include "sutra/model/rwkv/rwkv_ops.hpp"
#include "sutra/model/rwkv/rwkv_state.hpp"
#include "sutra/model/rwkv/rwkv_tensors.hpp"

namespace sutra::model::rwkv {

void channel_mix(const RwkvConfig& c, const BlockWeights& w, const float* xn, int64_t T,
                 LayerState& s, const Linears& lin, float* out);

}  // namespace sutra::model::rwkv
