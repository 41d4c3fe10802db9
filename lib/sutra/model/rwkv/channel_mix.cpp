#include "sutra/model/rwkv/channel_mix.hpp"

#include <algorithm>

namespace sutra::model::rwkv {

void channel_mix(const RwkvConfig& c, const BlockWeights& w, const float* xn, int64_t T,
                 LayerState& s, const Linears& lin, float* out) {
    const int64_t C = c.hidden;
    const auto n = static_cast<size_t>(T * C);
    const auto uC = static_cast<size_t>(C);
    const Vec prev = shifted(xn, s.ffn_shift, T, C);
    const bool lerp_old = c.version == Version::v4 || c.version == Version::v5_2;
    const bool gated = c.version != Version::v7;
    Vec xk(n), xr(gated ? n : 0);
    for (size_t i = 0; i < n; ++i) {
        const float mk = w.ffn_mix_k[i % uC];
        if (lerp_old) {
            const float mr = w.ffn_mix_r[i % uC];
            xk[i] = xn[i] * mk + prev[i] * (1.0f - mk);
            xr[i] = xn[i] * mr + prev[i] * (1.0f - mr);
        } else {
            const float sx = prev[i] - xn[i];
            xk[i] = xn[i] + sx * mk;
            if (gated) xr[i] = xn[i] + sx * w.ffn_mix_r[i % uC];
        }
    }
    std::copy(xn + (T - 1) * C, xn + T * C, s.ffn_shift.begin());
    Vec r;
    if (gated) r = lin.apply(LinearId::ffn_receptance, xr.data(), T, C, w.ffn_receptance, C);
    Vec k = lin.apply(LinearId::ffn_key, xk.data(), T, C, w.ffn_key, c.ffn);
    for (float& x : k) {
        x = std::max(x, 0.0f);
        x *= x;
    }
    lin.apply(LinearId::ffn_value, k.data(), T, c.ffn, w.ffn_value, C, out);
    if (gated) {
        for (size_t i = 0; i < n; ++i)
            out[i] *= sigmoid(r[i]);
    }
}

}  // namespace sutra::model::rwkv
