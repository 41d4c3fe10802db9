#include <algorithm>

#include "sutra/model/rwkv/time_mix.hpp"

namespace sutra::model::rwkv {

void wkv_v5(const float* r, const float* k, const float* v, const float* u, const float* w,
            int64_t w_stride, int64_t T, int64_t H, int64_t S, float* wkv, float* y) {
    const int64_t C = H * S;
    std::fill(y, y + T * C, 0.0f);
    for (int64_t t = 0; t < T; ++t) {
        const float* wt = w + t * w_stride;
        for (int64_t h = 0; h < H; ++h) {
            float* state = wkv + h * S * S;
            const int64_t base = t * C + h * S;
            float* yt = y + base;
            const float* vt = v + base;
            for (int64_t i = 0; i < S; ++i) {
                const float ki = k[base + i];
                const float ri = r[base + i];
                const float ui = u[h * S + i];
                const float wi = wt[h * S + i];
                float* row = state + i * S;
                for (int64_t j = 0; j < S; ++j) {
                    const float kv = ki * vt[j];
                    yt[j] += ri * (ui * kv + row[j]);
                    row[j] = row[j] * wi + kv;
                }
            }
        }
    }
}

void time_mix_v5(const RwkvConfig& c, const BlockWeights& w, const float* xn, int64_t T,
                 LayerState& s, const Linears& lin, float* out) {
    const int64_t C = c.hidden;
    const auto n = static_cast<size_t>(T * C);
    const Vec prev = shifted(xn, s.att_shift, T, C);
    Vec xk(n), xv(n), xr(n), xg(n);
    for (int64_t t = 0; t < T; ++t) {
        for (int64_t ch = 0; ch < C; ++ch) {
            const auto i = static_cast<size_t>(t * C + ch);
            const auto j = static_cast<size_t>(ch);
            xk[i] = xn[i] * w.mix_k[j] + prev[i] * (1.0f - w.mix_k[j]);
            xv[i] = xn[i] * w.mix_v[j] + prev[i] * (1.0f - w.mix_v[j]);
            xr[i] = xn[i] * w.mix_r[j] + prev[i] * (1.0f - w.mix_r[j]);
            xg[i] = xn[i] * w.mix_g[j] + prev[i] * (1.0f - w.mix_g[j]);
        }
    }
    const Vec r = lin.apply(LinearId::att_receptance, xr.data(), T, C, w.receptance, C);
    const Vec k = lin.apply(LinearId::att_key, xk.data(), T, C, w.key, C);
    const Vec v = lin.apply(LinearId::att_value, xv.data(), T, C, w.value, C);
    Vec g = lin.apply(LinearId::att_gate, xg.data(), T, C, w.gate, C);
    std::copy(xn + (T - 1) * C, xn + T * C, s.att_shift.begin());

    Vec y(n);
    wkv_v5(r.data(), k.data(), v.data(), w.first.data(), w.decay.data(), 0, T, c.heads, c.head_size,
           s.wkv.data(), y.data());
    group_norm(y.data(), w.ln_x_w, w.ln_x_b, T, c.heads, c.head_size, c.group_norm_eps);
    for (size_t i = 0; i < n; ++i)
        y[i] *= silu(g[i]);
    lin.apply(LinearId::att_output, y.data(), T, C, w.output, C, out);
}

}  // namespace sutra::model::rwkv
