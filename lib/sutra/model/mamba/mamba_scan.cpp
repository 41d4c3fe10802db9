#include "sutra/model/mamba/mamba_scan.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include "sutra/model/fast_math.hpp"

namespace sutra::model::mamba {
namespace {

// |v| and whether v is negative, from the bits (no float compare in vectorised loops).
inline float abs_bits(float v) {
    return std::bit_cast<float>(std::bit_cast<uint32_t>(v) & 0x7fffffffu);
}
inline uint32_t negative_mask(float v) {
    return 0u - (std::bit_cast<uint32_t>(v) >> 31);
}
inline float select(uint32_t mask, float a, float b) {
    return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & mask) |
                                (std::bit_cast<uint32_t>(b) & ~mask));
}

// log(1 + e) for e in [0, 1] as 2 atanh(s), s = e / (2 + e) in [0, 1/3]: the odd series to
// s^17 (the next term is below 1e-10), with no cancellation for small e.
inline float log1p_unit(float e) {
    const float s = e / (2.0f + e);
    const float s2 = s * s;
    float p = 1.0f / 17.0f;
    p = p * s2 + 1.0f / 15.0f;
    p = p * s2 + 1.0f / 13.0f;
    p = p * s2 + 1.0f / 11.0f;
    p = p * s2 + 1.0f / 9.0f;
    p = p * s2 + 1.0f / 7.0f;
    p = p * s2 + 1.0f / 5.0f;
    p = p * s2 + 1.0f / 3.0f;
    p = p * s2 + 1.0f;
    return 2.0f * s * p;
}

// silu(v) = v / (1 + exp(-v)), from e = exp(-|v|) so that the exponential never overflows.
inline float silu_fast(float v) {
    const float e = exp_nonpositive(-abs_bits(v));
    const float r = 1.0f / (1.0f + e);
    return v * select(negative_mask(v), e * r, r);
}

// softplus(v) = max(v, 0) + log(1 + exp(-|v|)); equal in float to PyTorch's v above 20.
inline float softplus_fast(float v) {
    const float pos = select(negative_mask(v), 0.0f, v);
    return pos + log1p_unit(exp_nonpositive(-abs_bits(v)));
}

}  // namespace

void softplus_inplace(float* v, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        v[i] = softplus_fast(v[i]);
}

void causal_conv_silu(const float* x, int64_t ld_x, int64_t T, int64_t D, int64_t K,
                      const float* w_t, const float* bias, float* window, float* u) {
    const int64_t W = K - 1;
    std::vector<float> ext(static_cast<size_t>((W + T) * D));
    if (W > 0) std::memcpy(ext.data(), window, static_cast<size_t>(W * D) * sizeof(float));
    for (int64_t t = 0; t < T; ++t)
        std::memcpy(ext.data() + (W + t) * D, x + t * ld_x, static_cast<size_t>(D) * sizeof(float));
    for (int64_t t = 0; t < T; ++t) {
        float* out = u + t * D;
        if (bias) {
            std::memcpy(out, bias, static_cast<size_t>(D) * sizeof(float));
        } else {
            std::fill(out, out + D, 0.0f);
        }
        for (int64_t k = 0; k < K; ++k) {
            const float* e = ext.data() + (t + k) * D;
            const float* w = w_t + k * D;
            for (int64_t c = 0; c < D; ++c)
                out[c] += w[c] * e[c];
        }
        for (int64_t c = 0; c < D; ++c)
            out[c] = silu_fast(out[c]);
    }
    if (W > 0) std::memcpy(window, ext.data() + T * D, static_cast<size_t>(W * D) * sizeof(float));
}

// Channels [c0, c0 + W) of one token: the state update over every n, the output y.
template <int W>
inline void scan_channels(const ScanArgs& a, int64_t t, int64_t c0) {
    const int64_t D = a.D;
    const float* dt = a.delta + t * D + c0;
    const float* u = a.u + t * D + c0;
    const float* B = a.B + t * a.ld_bc;
    const float* C = a.C + t * a.ld_bc;
    float du[W], acc[W] = {};
    for (int k = 0; k < W; ++k)
        du[k] = dt[k] * u[k];
    for (int64_t n = 0; n < a.N; ++n) {
        const float* A = a.A + n * D + c0;
        float* h = a.h + n * D + c0;
        const float b = B[n], cn = C[n];
        for (int k = 0; k < W; ++k) {
            const float hk = exp_nonpositive(dt[k] * A[k]) * h[k] + du[k] * b;
            h[k] = hk;
            acc[k] += hk * cn;
        }
    }
    const float* z = a.z + t * a.ld_z + c0;
    float* y = a.y + t * D + c0;
    for (int k = 0; k < W; ++k)
        y[k] = (acc[k] + a.skip[c0 + k] * u[k]) * silu_fast(z[k]);
}

void selective_scan(const ScanArgs& a) {
    constexpr int kBlock = 16;
    for (int64_t t = 0; t < a.T; ++t) {
        int64_t c = 0;
        for (; c + kBlock <= a.D; c += kBlock)
            scan_channels<kBlock>(a, t, c);
        for (; c < a.D; ++c)
            scan_channels<1>(a, t, c);
    }
}

}  // namespace sutra::model::mamba
