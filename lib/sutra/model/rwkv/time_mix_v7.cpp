#include <algorithm>
#include <cmath>

#include "sutra/model/rwkv/time_mix.hpp"

namespace sutra::model::rwkv {
namespace {

// a [T, C] + b [C] per row.
void add_row(Vec& a, const Vec& b) {
    const size_t C = b.size();
    for (size_t i = 0; i < a.size(); ++i)
        a[i] += b[i % C];
}

}  // namespace

void time_mix_v7(const RwkvConfig& c, const BlockWeights& w, const float* xn, int64_t T,
                 LayerState& s, const Linears& lin, Vec& v_first, float* out) {
    const int64_t C = c.hidden;
    const int64_t H = c.heads;
    const int64_t S = c.head_size;
    const auto n = static_cast<size_t>(T * C);
    const auto uC = static_cast<size_t>(C);
    Vec sx = shifted(xn, s.att_shift, T, C);
    for (size_t i = 0; i < n; ++i)
        sx[i] -= xn[i];
    // x_rwkvag rows: r, w, k, v, a, g.
    Vec mixed[6];
    for (size_t part = 0; part < 6; ++part) {
        mixed[part].resize(n);
        const float* m = w.x_rwkvag.data() + part * uC;
        for (size_t i = 0; i < n; ++i)
            mixed[part][i] = xn[i] + sx[i] * m[i % uC];
    }
    const Vec &xr = mixed[0], &xw = mixed[1], &xk = mixed[2], &xv = mixed[3], &xa = mixed[4],
              &xg = mixed[5];
    const Vec r = lin.apply(LinearId::att_receptance, xr.data(), T, C, w.receptance, C);

    Vec low = lin.apply(LinearId::att_w1, xw.data(), T, C, w.w1, c.w_rank);
    for (float& x : low)
        x = std::tanh(x);
    Vec decay = lin.apply(LinearId::att_w2, low.data(), T, c.w_rank, w.w2, C);
    add_row(decay, w.w0);
    const auto kDecayScale = static_cast<float>(std::exp(-0.5));
    for (float& x : decay)
        x = std::exp(-kDecayScale * sigmoid(x));

    Vec k = lin.apply(LinearId::att_key, xk.data(), T, C, w.key, C);
    Vec v = lin.apply(LinearId::att_value, xv.data(), T, C, w.value, C);
    if (w.layer == 0) {
        v_first = v;
    } else {
        low = lin.apply(LinearId::att_v1, xv.data(), T, C, w.v1, c.v_rank);
        Vec mix = lin.apply(LinearId::att_v2, low.data(), T, c.v_rank, w.v2, C);
        add_row(mix, w.v0);
        for (size_t i = 0; i < n; ++i)
            v[i] += (v_first[i] - v[i]) * sigmoid(mix[i]);
    }
    low = lin.apply(LinearId::att_a1, xa.data(), T, C, w.a1, c.a_rank);
    Vec a = lin.apply(LinearId::att_a2, low.data(), T, c.a_rank, w.a2, C);
    add_row(a, w.a0);
    for (float& x : a)
        x = sigmoid(x);
    low = lin.apply(LinearId::att_g1, xg.data(), T, C, w.g1, c.g_rank);
    for (float& x : low)
        x = sigmoid(x);
    const Vec g = lin.apply(LinearId::att_g2, low.data(), T, c.g_rank, w.g2, C);

    // kk: k * k_k normalised per head; then k *= 1 + (a - 1) k_a.
    Vec kk(n);
    for (size_t i = 0; i < n; ++i)
        kk[i] = k[i] * w.k_k[i % uC];
    for (int64_t row = 0; row < T * H; ++row) {
        float* p = kk.data() + row * S;
        double ss = 0.0;
        for (int64_t j = 0; j < S; ++j)
            ss += static_cast<double>(p[j]) * static_cast<double>(p[j]);
        const auto inv = static_cast<float>(1.0 / std::max(std::sqrt(ss), 1e-12));
        for (int64_t j = 0; j < S; ++j)
            p[j] *= inv;
    }
    for (size_t i = 0; i < n; ++i)
        k[i] *= 1.0f + (a[i] - 1.0f) * w.k_a[i % uC];
    std::copy(xn + (T - 1) * C, xn + T * C, s.att_shift.begin());

    // The recurrence, per token and head, state S[i][j] (i value, j key).
    Vec y(n);
    for (int64_t t = 0; t < T; ++t) {
        for (int64_t h = 0; h < H; ++h) {
            const auto base = static_cast<size_t>(t * C + h * S);
            const float* rt = r.data() + base;
            const float* wt = decay.data() + base;
            const float* kt = k.data() + base;
            const float* vt = v.data() + base;
            const float* kkt = kk.data() + base;
            const float* at = a.data() + base;
            float* state = s.wkv.data() + h * S * S;
            for (int64_t i = 0; i < S; ++i) {
                float* row = state + i * S;
                float sa = 0.0f;
                for (int64_t j = 0; j < S; ++j)
                    sa -= kkt[j] * row[j];
                float acc = 0.0f;
                for (int64_t j = 0; j < S; ++j) {
                    row[j] = row[j] * wt[j] + vt[i] * kt[j] + sa * (kkt[j] * at[j]);
                    acc += row[j] * rt[j];
                }
                y[base + static_cast<size_t>(i)] = acc;
            }
        }
    }
    group_norm(y.data(), w.ln_x_w, w.ln_x_b, T, H, S, c.group_norm_eps);
    // The bonus of the current token, then the gate.
    for (int64_t t = 0; t < T; ++t) {
        for (int64_t h = 0; h < H; ++h) {
            const auto base = static_cast<size_t>(t * C + h * S);
            float bonus = 0.0f;
            for (int64_t j = 0; j < S; ++j)
                bonus += r[base + j] * k[base + j] * w.r_k[static_cast<size_t>(h * S + j)];
            for (int64_t i = 0; i < S; ++i)
                y[base + i] += bonus * v[base + i];
        }
    }
    for (size_t i = 0; i < n; ++i)
        y[i] *= g[i];
    lin.apply(LinearId::att_output, y.data(), T, C, w.output, C, out);
}

}  // namespace sutra::model::rwkv
