#include "sutra/model/rwkv/rwkv_block.hpp"

#include <cmath>

#include "sutra/model/rwkv/channel_mix.hpp"
#include "sutra/model/rwkv/time_mix.hpp"

namespace sutra::model::rwkv {
namespace {

bool rescaled(const RwkvConfig& c) {
    return c.naming == Naming::hugging_face && c.rescale_every > 0;
}

float output_scale(const RwkvConfig& c, int layer) {
    return rescaled(c) ? std::ldexp(1.0f, -static_cast<int>(layer / c.rescale_every)) : 1.0f;
}

}  // namespace

void time_mix_out(const RwkvConfig& c, const BlockWeights& w, const float* x, int64_t T,
                  LayerState& s, const Linears& lin, Vec& v_first, float* out) {
    const auto n = static_cast<size_t>(T * c.hidden);
    Vec xn(n);
    layer_norm(x, w.ln1_w, w.ln1_b, T, c.hidden, c.ln_eps, xn.data());
    switch (c.version) {
        case Version::v4:
            time_mix_v4(c, w, xn.data(), T, s, lin, out);
            break;
        case Version::v5_2:
            time_mix_v5(c, w, xn.data(), T, s, lin, out);
            break;
        case Version::v6:
            time_mix_v6(c, w, xn.data(), T, s, lin, out);
            break;
        case Version::v7:
            time_mix_v7(c, w, xn.data(), T, s, lin, v_first, out);
            break;
    }
    const float scale = output_scale(c, w.layer);
    if (scale != 1.0f) {
        for (size_t i = 0; i < n; ++i)
            out[i] *= scale;
    }
}

void channel_mix_out(const RwkvConfig& c, const BlockWeights& w, const float* x, int64_t T,
                     LayerState& s, const Linears& lin, float* out) {
    const auto n = static_cast<size_t>(T * c.hidden);
    Vec xn(n);
    layer_norm(x, w.ln2_w, w.ln2_b, T, c.hidden, c.ln_eps, xn.data());
    channel_mix(c, w, xn.data(), T, s, lin, out);
    const float scale = output_scale(c, w.layer);
    if (scale != 1.0f) {
        for (size_t i = 0; i < n; ++i)
            out[i] *= scale;
    }
}

void run_layer(const RwkvConfig& c, const BlockWeights& w, Activations& x, LayerState& s,
               const Linears& lin, Vec& v_first) {
    const int64_t T = x.rows;
    const auto n = static_cast<size_t>(T * c.hidden);
    Vec out(n);
    float* xd = x.data.data();
    time_mix_out(c, w, xd, T, s, lin, v_first, out.data());
    for (size_t i = 0; i < n; ++i)
        xd[i] += out[i];
    channel_mix_out(c, w, xd, T, s, lin, out.data());
    for (size_t i = 0; i < n; ++i)
        xd[i] += out[i];
    if (rescaled(c) && (w.layer + 1) % c.rescale_every == 0) {
        for (size_t i = 0; i < n; ++i)
            xd[i] *= 0.5f;
    }
    s.seen += T;
}

}  // namespace sutra::model::rwkv
