#include <algorithm>
#include <cmath>

#include "sutra/model/rwkv/time_mix.hpp"

namespace sutra::model::rwkv {

void time_mix_v4(const RwkvConfig& c, const BlockWeights& w, const float* xn, int64_t T,
                 LayerState& s, const Linears& lin, float* out) {
    const int64_t C = c.hidden;
    const auto n = static_cast<size_t>(T * C);
    const Vec prev = shifted(xn, s.att_shift, T, C);
    Vec xk(n), xv(n), xr(n);
    for (int64_t t = 0; t < T; ++t) {
        for (int64_t ch = 0; ch < C; ++ch) {
            const auto i = static_cast<size_t>(t * C + ch);
            const auto j = static_cast<size_t>(ch);
            xk[i] = xn[i] * w.mix_k[j] + prev[i] * (1.0f - w.mix_k[j]);
            xv[i] = xn[i] * w.mix_v[j] + prev[i] * (1.0f - w.mix_v[j]);
            xr[i] = xn[i] * w.mix_r[j] + prev[i] * (1.0f - w.mix_r[j]);
        }
    }
    Vec r = lin.apply(LinearId::att_receptance, xr.data(), T, C, w.receptance, C);
    const Vec k = lin.apply(LinearId::att_key, xk.data(), T, C, w.key, C);
    const Vec v = lin.apply(LinearId::att_value, xv.data(), T, C, w.value, C);

    // r becomes r * wkv, token by token.
    float* aa = s.aa.data();
    float* bb = s.bb.data();
    float* pp = s.pp.data();
    for (int64_t t = 0; t < T; ++t) {
        for (int64_t ch = 0; ch < C; ++ch) {
            const auto i = static_cast<size_t>(t * C + ch);
            const float kt = k[i];
            const float vt = v[i];
            float ww = w.first[static_cast<size_t>(ch)] + kt;
            float q = std::max(pp[ch], ww);
            float e1 = std::exp(pp[ch] - q);
            float e2 = std::exp(ww - q);
            const float wkv = (e1 * aa[ch] + e2 * vt) / (e1 * bb[ch] + e2);
            ww = pp[ch] + w.decay[static_cast<size_t>(ch)];
            q = std::max(ww, kt);
            e1 = std::exp(ww - q);
            e2 = std::exp(kt - q);
            aa[ch] = e1 * aa[ch] + e2 * vt;
            bb[ch] = e1 * bb[ch] + e2;
            pp[ch] = q;
            r[i] = sigmoid(r[i]) * wkv;
        }
    }
    std::copy(xn + (T - 1) * C, xn + T * C, s.att_shift.begin());
    lin.apply(LinearId::att_output, r.data(), T, C, w.output, C, out);
}

}  // namespace sutra::model::rwkv
