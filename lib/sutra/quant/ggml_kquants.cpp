// The 256-value GGUF super-blocks Q4_K, Q5_K, Q6_K (layouts: format/GGUF.md).
//
// Encoding minimises the weighted squared error sum_i w_i (x_i - dec_i)^2, w = the importance
// or 1 (a sub-block whose weights are all zero is fitted with w = 1):
//   1. each sub-block (Q4_K / Q5_K: 8 x 32 values, dec = s q - m with s >= 0, m >= 0 and
//      q in [0, 15] / [0, 31]; Q6_K: 16 x 16 values, dec = s q with q in [-32, 31]) gets its
//      own least-squares fit over a grid of candidate code assignments (ggml_search.cpp);
//   2. the super-block scales: Q4_K / Q5_K d = F16(max s / 63), dmin = F16(max m / 63), so
//      the largest sub-block scale and min use the whole 6-bit range; Q6_K d = F16(s* / -128)
//      with s* the sub-block scale of largest |s|, so it gets the int8 code -128;
//   3. per sub-block, the 6-bit (sc, mb) or int8 sc around the rounded ratio s / d (a 3 x 3
//      or 3-wide neighbourhood) is chosen by the error of the block decoded exactly as the
//      decoder does, with the codes recomputed (nearest) for each quantized scale.
// llama.cpp's own encoders differ (they weigh by |x|-based heuristics when no importance is
// given and quantize the scales without looking at the codes); only the layout is shared.
#include <cmath>
#include <cstring>
#include <limits>

#include "sutra/quant/ggml_blocks.hpp"

namespace sutra::quant::ggml {
namespace {

constexpr int kQkK = 256;

const float* ones() {
    static const auto* v = [] {
        static float a[kQkK];
        for (float& f : a)
            f = 1.0f;
        return a;
    }();
    return v;
}

// The weights of sub-block [off, off + n): the importance, or 1 where there is none or it
// is all zero.
const float* sub_weights(const float* w, int off, int n) {
    if (!w) return ones();
    double s = 0;
    for (int i = 0; i < n; ++i)
        s += static_cast<double>(w[off + i]);
    return s > 0 ? w + off : ones();
}

// The 12-byte 6-bit scale/min table of Q4_K / Q5_K: sub-blocks 0..3 in the low 6 bits of
// bytes 0..3 (scales) and 4..7 (mins); sub-blocks 4..7 with their low 4 bits in bytes 8..11
// (scale low nibble, min high nibble) and their top 2 bits in bits 6..7 of bytes 0..3
// (scales) and 4..7 (mins).
void pack_scales_k4(const int* sc, const int* mb, uint8_t* s) {
    std::memset(s, 0, 12);
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            s[j] = static_cast<uint8_t>(s[j] | sc[j]);
            s[j + 4] = static_cast<uint8_t>(s[j + 4] | mb[j]);
        } else {
            s[j + 4] = static_cast<uint8_t>((sc[j] & 0x0f) | ((mb[j] & 0x0f) << 4));
            s[j - 4] = static_cast<uint8_t>(s[j - 4] | ((sc[j] >> 4) << 6));
            s[j] = static_cast<uint8_t>(s[j] | ((mb[j] >> 4) << 6));
        }
    }
}

void unpack_scale_k4(int j, const uint8_t* s, int* sc, int* mb) {
    if (j < 4) {
        *sc = s[j] & 63;
        *mb = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *mb = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// Codes q = nearest((x + m1) / d1) in [lo, hi] (all 0 when d1 = 0) into q[n], and the
// weighted squared error of the decoded d1 q - m1 (n a multiple of 8; 8 lanes, fixed order).
double try_scale(const float* x, const float* w, int n, float d1, float m1, float lo, float hi,
                 int* q) {
    const float inv = d1 != 0.0f ? 1.0f / d1 : 0.0f;
    float e[8] = {};
    for (int i = 0; i < n; i += 8) {
        for (int l = 0; l < 8; ++l) {
            float v = (x[i + l] + m1) * inv;
            v = v > lo ? v : lo;
            v = v < hi ? v : hi;
            const float qf = d1 != 0.0f ? (v + 12582912.0f) - 12582912.0f : 0.0f;
            q[i + l] = static_cast<int>(qf);
            const float r = x[i + l] - (d1 * qf - m1);
            e[l] += w[i + l] * r * r;
        }
    }
    double s = 0;
    for (float v : e)
        s += static_cast<double>(v);
    return s;
}

// Steps 1-3 for Q4_K / Q5_K; codes q[256] in [0, nmax], sc/mb 6-bit, d16/m16 F16.
bool fit_k45(const float* x, const float* w, int nmax, int* q, int* sc, int* mb, uint16_t* d16,
             uint16_t* m16) {
    float s[8], m[8];
    const float* ws[8];
    float max_s = 0, max_m = 0;
    for (int j = 0; j < 8; ++j) {
        ws[j] = sub_weights(w, 32 * j, 32);
        const Affine a = fit_affine(x + 32 * j, ws[j], 32, nmax, 0.1f, 10, true, false);
        s[j] = a.d;
        m[j] = -a.b;
        max_s = std::max(max_s, s[j]);
        max_m = std::max(max_m, m[j]);
    }
    *d16 = f32_to_f16(max_s / 63.0f);
    *m16 = f32_to_f16(max_m / 63.0f);
    if (!f16_finite(*d16) || !f16_finite(*m16)) return false;
    const float d = f16_to_f32(*d16), dm = f16_to_f32(*m16);
    int cand[32];
    for (int j = 0; j < 8; ++j) {
        const float* xs = x + 32 * j;
        const int sc0 = d > 0 ? nearest_clamped(s[j] / d, 0, 63) : 0;
        const int mb0 = dm > 0 ? nearest_clamped(m[j] / dm, 0, 63) : 0;
        double best = std::numeric_limits<double>::infinity();
        for (int a = std::max(sc0 - 1, 0); a <= std::min(sc0 + 1, d > 0 ? 63 : 0); ++a) {
            for (int b = std::max(mb0 - 1, 0); b <= std::min(mb0 + 1, dm > 0 ? 63 : 0); ++b) {
                const float d1 = d * static_cast<float>(a), m1 = dm * static_cast<float>(b);
                const double err =
                    try_scale(xs, ws[j], 32, d1, m1, 0.0f, static_cast<float>(nmax), cand);
                if (err < best) {
                    best = err;
                    sc[j] = a;
                    mb[j] = b;
                    std::memcpy(q + 32 * j, cand, sizeof cand);
                }
            }
        }
    }
    return true;
}

}  // namespace

bool encode_q4_k(const float* x, const float* w, uint8_t* out) {
    int q[kQkK], sc[8], mb[8];
    uint16_t d16 = 0, m16 = 0;
    if (!fit_k45(x, w, 15, q, sc, mb, &d16, &m16)) return false;
    put_f16(out, d16);
    put_f16(out + 2, m16);
    pack_scales_k4(sc, mb, out + 4);
    uint8_t* qs = out + 16;
    for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l)
            qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
    return true;
}

bool encode_q5_k(const float* x, const float* w, uint8_t* out) {
    int q[kQkK], sc[8], mb[8];
    uint16_t d16 = 0, m16 = 0;
    if (!fit_k45(x, w, 31, q, sc, mb, &d16, &m16)) return false;
    put_f16(out, d16);
    put_f16(out + 2, m16);
    pack_scales_k4(sc, mb, out + 4);
    uint8_t* qh = out + 16;
    uint8_t* qs = out + 48;
    std::memset(qh, 0, 32);
    for (int c = 0; c < 4; ++c) {
        for (int l = 0; l < 32; ++l) {
            const int lo = q[64 * c + l], hi = q[64 * c + 32 + l];
            qs[32 * c + l] = static_cast<uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4));
            qh[l] = static_cast<uint8_t>(qh[l] | (((lo >> 4) & 1) << (2 * c)) |
                                         (((hi >> 4) & 1) << (2 * c + 1)));
        }
    }
    return true;
}

bool encode_q6_k(const float* x, const float* w, uint8_t* out) {
    float s[16];
    const float* ws[16];
    float s_star = 0;
    for (int j = 0; j < 16; ++j) {
        ws[j] = sub_weights(w, 16 * j, 16);
        s[j] = fit_symmetric(x + 16 * j, ws[j], 16, -32, 31, 0.1f, 10, false);
        if (std::fabs(s[j]) > std::fabs(s_star)) s_star = s[j];
    }
    std::memset(out, 0, 210);
    const uint16_t d16 = f32_to_f16(s_star / -128.0f);
    if (!f16_finite(d16)) return false;
    const float d = f16_to_f32(d16);
    if (d == 0.0f) return true;  // all (near) zero: zero codes, scales and d decode to 0
    int q[kQkK], cand[16];
    int8_t* scales = reinterpret_cast<int8_t*>(out + 192);
    for (int j = 0; j < 16; ++j) {
        const float* xs = x + 16 * j;
        const int sc0 = nearest_clamped(s[j] / d, -128, 127);
        double best = std::numeric_limits<double>::infinity();
        for (int a = std::max(sc0 - 1, -128); a <= std::min(sc0 + 1, 127); ++a) {
            const float d1 = d * static_cast<float>(a);
            const double err = try_scale(xs, ws[j], 16, d1, 0.0f, -32.0f, 31.0f, cand);
            if (err < best) {
                best = err;
                scales[j] = static_cast<int8_t>(a);
                std::memcpy(q + 16 * j, cand, sizeof cand);
            }
        }
    }
    uint8_t* ql = out;
    uint8_t* qh = out + 128;
    for (int h = 0; h < 2; ++h) {
        const int* L = q + 128 * h;
        for (int l = 0; l < 32; ++l) {
            const int q1 = L[l] + 32, q2 = L[l + 32] + 32, q3 = L[l + 64] + 32, q4 = L[l + 96] + 32;
            ql[64 * h + l] = static_cast<uint8_t>((q1 & 0x0f) | ((q3 & 0x0f) << 4));
            ql[64 * h + l + 32] = static_cast<uint8_t>((q2 & 0x0f) | ((q4 & 0x0f) << 4));
            qh[32 * h + l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) |
                                                  ((q4 >> 4) << 6));
        }
    }
    put_f16(out + 208, d16);
    return true;
}

// ---- decoders: llama.cpp's dequantize_row_q{4,5,6}_K expressions, in the same order ----

void decode_q4_k(const uint8_t* in, float* out) {
    const float d = get_f16_f32(in), dmin = get_f16_f32(in + 2);
    const uint8_t* qs = in + 16;
    for (int c = 0; c < 4; ++c) {
        int sc = 0, mb = 0;
        unpack_scale_k4(2 * c, in + 4, &sc, &mb);
        const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(mb);
        unpack_scale_k4(2 * c + 1, in + 4, &sc, &mb);
        const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(mb);
        for (int l = 0; l < 32; ++l) {
            out[64 * c + l] = d1 * static_cast<float>(qs[32 * c + l] & 0x0f) - m1;
            out[64 * c + 32 + l] = d2 * static_cast<float>(qs[32 * c + l] >> 4) - m2;
        }
    }
}

void decode_q5_k(const uint8_t* in, float* out) {
    const float d = get_f16_f32(in), dmin = get_f16_f32(in + 2);
    const uint8_t* qh = in + 16;
    const uint8_t* qs = in + 48;
    for (int c = 0; c < 4; ++c) {
        int sc = 0, mb = 0;
        unpack_scale_k4(2 * c, in + 4, &sc, &mb);
        const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(mb);
        unpack_scale_k4(2 * c + 1, in + 4, &sc, &mb);
        const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(mb);
        for (int l = 0; l < 32; ++l) {
            const int lo = (qs[32 * c + l] & 0x0f) + ((qh[l] >> (2 * c)) & 1) * 16;
            const int hi = (qs[32 * c + l] >> 4) + ((qh[l] >> (2 * c + 1)) & 1) * 16;
            out[64 * c + l] = d1 * static_cast<float>(lo) - m1;
            out[64 * c + 32 + l] = d2 * static_cast<float>(hi) - m2;
        }
    }
}

void decode_q6_k(const uint8_t* in, float* out) {
    const float d = get_f16_f32(in + 208);
    const uint8_t* ql = in;
    const uint8_t* qh = in + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(in + 192);
    for (int h = 0; h < 2; ++h) {
        float* y = out + 128 * h;
        for (int l = 0; l < 32; ++l) {
            const int is = 8 * h + l / 16;
            const uint8_t a = ql[64 * h + l], b = ql[64 * h + l + 32], hb = qh[32 * h + l];
            const int q1 = ((a & 0x0f) | ((hb & 3) << 4)) - 32;
            const int q2 = ((b & 0x0f) | (((hb >> 2) & 3) << 4)) - 32;
            const int q3 = ((a >> 4) | (((hb >> 4) & 3) << 4)) - 32;
            const int q4 = ((b >> 4) | (((hb >> 6) & 3) << 4)) - 32;
            y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
            y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
            y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
            y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
        }
    }
}

}  // namespace sutra::quant::ggml
