// The 32-value GGUF blocks Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (layouts: format/GGUF.md).
//
// Without importance each encoder is llama.cpp's reference rounding, in the same float
// operations, so its bytes equal quantize_row_*_ref's:
//   Q4_0 / Q5_0: xm = the element of largest |x| (the first one on ties), d = xm / -8 (-16),
//                q = min(15 (31), trunc(x / d + 8.5 (16.5))) with x / d computed as x * (1/d);
//   Q4_1 / Q5_1: d = (max - min) / 15 (31), m = min, q = trunc((x - min) * (1/d) + 0.5)
//                (Q4_1 also min(15, .));
//   Q8_0:        d = max|x| / 127, q = roundf(x * (1/d)).
// d (and m) are stored as F16 (round to nearest even); 1/d uses the unrounded f32 d.
//
// With importance the encoder searches the parameters that minimise the weighted squared
// error of the decoded block (ggml_search.cpp: 2 x 21 scale candidates for the symmetric
// types, 2 x 21 range candidates with a weighted least-squares (d, m) for Q4_1 / Q5_1, F16
// rounding of the parameters included, then two refinements), and keeps the reference
// block instead when that one is not worse: the weighted error never exceeds the reference's.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "sutra/quant/ggml_blocks.hpp"

namespace sutra::quant::ggml {
namespace {

constexpr int kQk = 32;

// The element of largest |x| (first on ties) and its |x|, as llama.cpp scans.
float signed_max_abs(const float* x) {
    float amax = 0, mx = 0;
    for (int j = 0; j < kQk; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            mx = x[j];
        }
    }
    return mx;
}

void min_max(const float* x, float* mn, float* mx) {
    *mn = std::numeric_limits<float>::max();
    *mx = -std::numeric_limits<float>::max();
    for (int j = 0; j < kQk; ++j) {
        if (x[j] < *mn) *mn = x[j];
        if (x[j] > *mx) *mx = x[j];
    }
}

// qs[16]: element j in the low nibble of byte j, element j + 16 in its high nibble.
void pack_nibbles(const int* q, uint8_t* qs) {
    for (int j = 0; j < kQk / 2; ++j)
        qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | ((q[j + kQk / 2] & 0x0f) << 4));
}
// The fifth bits as a little-endian uint32: bit j = bit 4 of element j.
void pack_high_bits(const int* q, uint8_t* qh) {
    uint32_t h = 0;
    for (int j = 0; j < kQk; ++j)
        h |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
    for (int b = 0; b < 4; ++b)
        qh[b] = static_cast<uint8_t>(h >> (8 * b));
}
uint32_t get_u32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

// ---- reference (unweighted) encoders ----

bool ref_sym(const float* x, float div, float bias, int qmax, uint8_t* out, bool five_bits) {
    const float d = signed_max_abs(x) / div;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t d16 = f32_to_f16(d);
    if (!f16_finite(d16)) return false;
    put_f16(out, d16);
    int q[kQk];
    for (int j = 0; j < kQk; ++j) {
        const int v = trunc_low_byte_i8(x[j] * id + bias);
        q[j] = static_cast<uint8_t>(std::min(qmax, v));
    }
    if (five_bits) {
        pack_high_bits(q, out + 2);
        pack_nibbles(q, out + 6);
    } else {
        pack_nibbles(q, out + 2);
    }
    return true;
}

bool ref_affine(const float* x, float levels, int qmax, uint8_t* out, bool five_bits) {
    float mn = 0, mx = 0;
    min_max(x, &mn, &mx);
    const float d = (mx - mn) / levels;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t d16 = f32_to_f16(d), m16 = f32_to_f16(mn);
    if (!f16_finite(d16) || !f16_finite(m16)) return false;
    put_f16(out, d16);
    put_f16(out + 2, m16);
    int q[kQk];
    for (int j = 0; j < kQk; ++j) {
        const int v = trunc_low_byte_i8((x[j] - mn) * id + 0.5f);
        q[j] = static_cast<uint8_t>(qmax > 0 ? std::min(qmax, v) : v);
    }
    if (five_bits) {
        pack_high_bits(q, out + 4);
        pack_nibbles(q, out + 8);
    } else {
        pack_nibbles(q, out + 4);
    }
    return true;
}

bool ref_q8_0(const float* x, uint8_t* out) {
    float amax = 0;
    for (int j = 0; j < kQk; ++j)
        amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t d16 = f32_to_f16(d);
    if (!f16_finite(d16)) return false;
    put_f16(out, d16);
    for (int j = 0; j < kQk; ++j)
        out[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(round_half_away(x[j] * id)));
    return true;
}

// ---- weighted encoders: a candidate block, then the better of it and the reference ----

using Decoder = void (*)(const uint8_t*, float*);

void keep_better(const float* x, const float* w, const uint8_t* cand, size_t bytes, Decoder dec,
                 uint8_t* ref_inout) {
    float a[kQk], b[kQk];
    dec(ref_inout, a);
    dec(cand, b);
    if (weighted_sq_error(x, b, w, kQk) < weighted_sq_error(x, a, w, kQk))
        std::memcpy(ref_inout, cand, bytes);
}

// Symmetric candidate: codes q - offset in [lo, hi] stored as q in [0, hi - lo].
bool weighted_sym(const float* x, const float* w, int lo, int hi, float step, uint16_t* d16,
                  int* q) {
    const float s = fit_symmetric(x, w, kQk, lo, hi, step, 10, true);
    if (s == 0.0f) return false;
    *d16 = f32_to_f16(s);
    if (!f16_finite(*d16)) return false;
    const float inv = 1.0f / f16_to_f32(*d16);
    for (int j = 0; j < kQk; ++j)
        q[j] = nearest_clamped(x[j] * inv, lo, hi) - lo;
    return true;
}

bool weighted_affine(const float* x, const float* w, int nmax, uint16_t* d16, uint16_t* m16,
                     int* q) {
    const Affine p = fit_affine(x, w, kQk, nmax, 0.1f, 10, false, true);
    *d16 = f32_to_f16(p.d);
    *m16 = f32_to_f16(p.b);
    if (!f16_finite(*d16) || !f16_finite(*m16)) return false;
    const float d = f16_to_f32(*d16), m = f16_to_f32(*m16);
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < kQk; ++j)
        q[j] = d != 0.0f ? nearest_clamped((x[j] - m) * inv, 0, nmax) : 0;
    return true;
}

}  // namespace

bool encode_q4_0(const float* x, const float* w, uint8_t* out) {
    if (!ref_sym(x, -8.0f, 8.5f, 15, out, false)) return false;
    if (!w) return true;
    uint8_t cand[18];
    uint16_t d16 = 0;
    int q[kQk];
    if (!weighted_sym(x, w, -8, 7, 0.1f, &d16, q)) return true;
    put_f16(cand, d16);
    pack_nibbles(q, cand + 2);
    keep_better(x, w, cand, sizeof cand, decode_q4_0, out);
    return true;
}

bool encode_q5_0(const float* x, const float* w, uint8_t* out) {
    if (!ref_sym(x, -16.0f, 16.5f, 31, out, true)) return false;
    if (!w) return true;
    uint8_t cand[22];
    uint16_t d16 = 0;
    int q[kQk];
    if (!weighted_sym(x, w, -16, 15, 0.1f, &d16, q)) return true;
    put_f16(cand, d16);
    pack_high_bits(q, cand + 2);
    pack_nibbles(q, cand + 6);
    keep_better(x, w, cand, sizeof cand, decode_q5_0, out);
    return true;
}

bool encode_q4_1(const float* x, const float* w, uint8_t* out) {
    if (!ref_affine(x, 15.0f, 15, out, false)) return false;
    if (!w) return true;
    uint8_t cand[20];
    uint16_t d16 = 0, m16 = 0;
    int q[kQk];
    if (!weighted_affine(x, w, 15, &d16, &m16, q)) return true;
    put_f16(cand, d16);
    put_f16(cand + 2, m16);
    pack_nibbles(q, cand + 4);
    keep_better(x, w, cand, sizeof cand, decode_q4_1, out);
    return true;
}

bool encode_q5_1(const float* x, const float* w, uint8_t* out) {
    if (!ref_affine(x, 31.0f, 0, out, true)) return false;
    if (!w) return true;
    uint8_t cand[24];
    uint16_t d16 = 0, m16 = 0;
    int q[kQk];
    if (!weighted_affine(x, w, 31, &d16, &m16, q)) return true;
    put_f16(cand, d16);
    put_f16(cand + 2, m16);
    pack_high_bits(q, cand + 4);
    pack_nibbles(q, cand + 8);
    keep_better(x, w, cand, sizeof cand, decode_q5_1, out);
    return true;
}

bool encode_q8_0(const float* x, const float* w, uint8_t* out) {
    if (!ref_q8_0(x, out)) return false;
    if (!w) return true;
    uint8_t cand[34];
    uint16_t d16 = 0;
    int q[kQk];
    if (!weighted_sym(x, w, -127, 127, 0.5f, &d16, q)) return true;
    put_f16(cand, d16);
    for (int j = 0; j < kQk; ++j)
        cand[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q[j] - 127));
    keep_better(x, w, cand, sizeof cand, decode_q8_0, out);
    return true;
}

// ---- decoders: llama.cpp's dequantize_row_* expressions, in the same order ----

void decode_q4_0(const uint8_t* in, float* out) {
    const float d = get_f16_f32(in);
    for (int j = 0; j < kQk / 2; ++j) {
        out[j] = static_cast<float>((in[2 + j] & 0x0f) - 8) * d;
        out[j + kQk / 2] = static_cast<float>((in[2 + j] >> 4) - 8) * d;
    }
}

void decode_q4_1(const uint8_t* in, float* out) {
    const float d = get_f16_f32(in), m = get_f16_f32(in + 2);
    for (int j = 0; j < kQk / 2; ++j) {
        out[j] = static_cast<float>(in[4 + j] & 0x0f) * d + m;
        out[j + kQk / 2] = static_cast<float>(in[4 + j] >> 4) * d + m;
    }
}

void decode_q5_0(const uint8_t* in, float* out) {
    const float d = get_f16_f32(in);
    const uint32_t qh = get_u32(in + 2);
    for (int j = 0; j < kQk / 2; ++j) {
        const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
        const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
        out[j] = static_cast<float>(((in[6 + j] & 0x0f) | h0) - 16) * d;
        out[j + kQk / 2] = static_cast<float>(((in[6 + j] >> 4) | h1) - 16) * d;
    }
}

void decode_q5_1(const uint8_t* in, float* out) {
    const float d = get_f16_f32(in), m = get_f16_f32(in + 2);
    const uint32_t qh = get_u32(in + 4);
    for (int j = 0; j < kQk / 2; ++j) {
        const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
        const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
        out[j] = static_cast<float>((in[8 + j] & 0x0f) | h0) * d + m;
        out[j + kQk / 2] = static_cast<float>((in[8 + j] >> 4) | h1) * d + m;
    }
}

void decode_q8_0(const uint8_t* in, float* out) {
    const float d = get_f16_f32(in);
    for (int j = 0; j < kQk; ++j)
        out[j] = static_cast<float>(static_cast<int8_t>(in[2 + j])) * d;
}

}  // namespace sutra::quant::ggml
