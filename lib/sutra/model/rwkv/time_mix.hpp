#pragma once
// The time-mix (attention) sub-layer of each RWKV version. Each takes xn = ln1(x) [T, C] of T
// consecutive tokens, writes out [T, C] (the sub-layer's output, before the residual add) and
// advances the layer state by the T tokens: the linears run as matrix products over all T rows,
// the recurrence token by token. prev_t is the previous token's xn (att_shift for t = 0).
//
// v4:   xk = xn*mix_k + prev*(1-mix_k) (likewise xv, xr); r = sigmoid(xr Wr^T), k = xk Wk^T,
//       v = xv Wv^T; per channel, with decay d = -exp(raw) and bonus u:
//         wkv_t = (e^pp aa + e^(u+k) v) / (e^pp bb + e^(u+k))      (computed shifted by max)
//         aa, bb <- e^d aa + e^k v, e^d bb + e^k                    (pp keeps the exponent)
//       out = (r * wkv) Wo^T
// v5.2: xk, xv, xr, xg as v4; r, k, v; g = silu(xg Wg^T); per head h, w = exp(-exp(raw)):
//         y_t[j] = sum_i r[i] (u[i] k[i] v[j] + S[i][j]);  S[i][j] <- w[i] S[i][j] + k[i] v[j]
//       out = (group_norm(y) * g) Wo^T            (H groups, ln_x, eps 1e-5 as in rwkv.cpp)
// v6:   sx = prev - xn; m = tanh((xn + sx*maa_x) W1^T) split in 5 [T, D] (w, k, v, r, g), each
//       times its W2[i]^T; x_i = xn + sx*(maa_i + m_i); w = exp(-exp(decay + tanh(xw Dw1^T)
//       Dw2^T)) per token; recurrence as v5.2 with that w; group_norm eps 64e-5 (rwkv.cpp:
//       x/8 then eps 1e-5).
// v7:   x_i = xn + sx*x_rwkvag[i] for r, w, k, v, a, g; r, k, v linear;
//       w = exp(-e^-0.5 sigmoid(w0 + tanh(xw w1^T) w2^T));  a = sigmoid(a0 + (xa a1^T) a2^T);
//       g = sigmoid(xg g1^T) g2^T;  blocks after 0: v += (v_first - v) sigmoid(v0 + (xv v1^T)
//       v2^T) with v_first block 0's v; kk = normalise_per_head(k * k_k); k *= 1 + (a-1) k_a;
//       per head, S[i][j] (i value, j key):
//         S <- S diag(w) + (S (-kk)) (kk a)^T + v k^T;   y = S r
//       y = group_norm(y) (eps 64e-5) + per head (sum_j r k r_k) v;  out = (y * g) Wo^T
#include <cstdint>

#include "sutra/model/rwkv/rwkv_config.hpp"
#include "sutra/model/rwkv/rwkv_ops.hpp"
#include "sutra/model/rwkv/rwkv_state.hpp"
#include "sutra/model/rwkv/rwkv_tensors.hpp"

namespace sutra::model::rwkv {

void time_mix_v4(const RwkvConfig& c, const BlockWeights& w, const float* xn, int64_t T,
                 LayerState& s, const Linears& lin, float* out);
void time_mix_v5(const RwkvConfig& c, const BlockWeights& w, const float* xn, int64_t T,
                 LayerState& s, const Linears& lin, float* out);
void time_mix_v6(const RwkvConfig& c, const BlockWeights& w, const float* xn, int64_t T,
                 LayerState& s, const Linears& lin, float* out);
// v_first [T, C]: written by block 0, read by the others.
void time_mix_v7(const RwkvConfig& c, const BlockWeights& w, const float* xn, int64_t T,
                 LayerState& s, const Linears& lin, Vec& v_first, float* out);

// The heads' recurrence of v5.2 and v6: y [T, C] from r, k, v [T, C], bonus u [C] and decay
// w ([C] for every token when w_stride is 0, else [T, C]), state wkv [H, S, S].
void wkv_v5(const float* r, const float* k, const float* v, const float* u, const float* w,
            int64_t w_stride, int64_t T, int64_t H, int64_t S, float* wkv, float* y);

}  // namespace sutra::model::rwkv
