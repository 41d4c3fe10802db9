#include <algorithm>
#include <cmath>

#include "sutra/model/blas.hpp"
#include "sutra/model/rwkv/time_mix.hpp"

namespace sutra::model::rwkv {

void time_mix_v6(const RwkvConfig& c, const BlockWeights& w, const float* xn, int64_t T,
                 LayerState& s, const Linears& lin, float* out) {
    const int64_t C = c.hidden;
    const int64_t D = c.mix_rank;
    const auto n = static_cast<size_t>(T * C);
    Vec sx = shifted(xn, s.att_shift, T, C);
    for (size_t i = 0; i < n; ++i)
        sx[i] -= xn[i];
    Vec xxx(n);
    for (size_t i = 0; i < n; ++i)
        xxx[i] = xn[i] + sx[i] * w.mix_x[i % static_cast<size_t>(C)];
    Vec m = lin.apply(LinearId::att_mix_w1, xxx.data(), T, C, w.mix_w1, 5 * D);
    for (float& x : m)
        x = std::tanh(x);

    // The five data-dependent mixes (w, k, v, r, g): chunk i of m [T, D] times time_maa_w2[i]^T,
    // plus time_maa_i, times sx, plus xn.
    const Vec* maa[5] = {&w.mix_w, &w.mix_k, &w.mix_v, &w.mix_r, &w.mix_g};
    Vec mixed[5];
    Vec chunk(static_cast<size_t>(T * D)), mi(n);
    for (int part = 0; part < 5; ++part) {
        for (int64_t t = 0; t < T; ++t)
            std::copy_n(m.data() + t * 5 * D + part * D, D, chunk.data() + t * D);
        matmul_wt(chunk.data(), T, D, w.mix_w2.data() + part * C * D, C, mi.data());
        Vec& x = mixed[part];
        x.resize(n);
        const Vec& base = *maa[part];
        for (size_t i = 0; i < n; ++i)
            x[i] = xn[i] + sx[i] * (base[i % static_cast<size_t>(C)] + mi[i]);
    }
    const Vec& xw = mixed[0];
    const Vec r = lin.apply(LinearId::att_receptance, mixed[3].data(), T, C, w.receptance, C);
    const Vec k = lin.apply(LinearId::att_key, mixed[1].data(), T, C, w.key, C);
    const Vec v = lin.apply(LinearId::att_value, mixed[2].data(), T, C, w.value, C);
    const Vec g = lin.apply(LinearId::att_gate, mixed[4].data(), T, C, w.gate, C);
    Vec dw = lin.apply(LinearId::att_decay_w1, xw.data(), T, C, w.decay_w1, c.decay_rank);
    for (float& x : dw)
        x = std::tanh(x);
    Vec decay = lin.apply(LinearId::att_decay_w2, dw.data(), T, c.decay_rank, w.decay_w2, C);
    for (size_t i = 0; i < n; ++i)
        decay[i] = std::exp(-std::exp(decay[i] + w.decay[i % static_cast<size_t>(C)]));
    std::copy(xn + (T - 1) * C, xn + T * C, s.att_shift.begin());

    Vec y(n);
    wkv_v5(r.data(), k.data(), v.data(), w.first.data(), decay.data(), C, T, c.heads, c.head_size,
           s.wkv.data(), y.data());
    group_norm(y.data(), w.ln_x_w, w.ln_x_b, T, c.heads, c.head_size, c.group_norm_eps);
    for (size_t i = 0; i < n; ++i)
        y[i] *= silu(g[i]);
    lin.apply(LinearId::att_output, y.data(), T, C, w.output, C, out);
}

}  // namespace sutra::model::rwkv
