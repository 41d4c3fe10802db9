// The scalar reference of every kernel: the definition the SIMD versions must match bit for bit.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "sutra/base/half.hpp"
#include "sutra/simd/kernels.hpp"
#include "sutra/simd/sum_order.hpp"

namespace sutra::simd {
namespace {

void f16_to_f32_ref(const uint16_t* in, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const uint16_t h = in[i];  // read before the (possibly aliasing) write
        out[i] = sutra::f16_to_f32(h);
    }
}

void bf16_to_f32_ref(const uint16_t* in, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const uint16_t h = in[i];
        out[i] = sutra::bf16_to_f32(h);
    }
}

bool min_max_ref(const float* x, size_t n, float* lo, float* hi) {
    float a = x[0], b = x[0];
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(x[i])) return false;
        a = std::min(a, x[i]);
        b = std::max(b, x[i]);
    }
    *lo = a;
    *hi = b;
    return true;
}

void quantize_ref(const float* x, size_t n, float scale, float zero, float qmax, uint8_t* codes) {
    for (size_t i = 0; i < n; ++i)
        codes[i] = static_cast<uint8_t>(std::clamp(std::rint(x[i] / scale) + zero, 0.0f, qmax));
}

void dequantize_ref(const uint8_t* codes, size_t n, float scale, float zero, float* out) {
    for (size_t i = 0; i < n; ++i)
        out[i] = (static_cast<float>(codes[i]) - zero) * scale;
}

void pack4_ref(const uint8_t* codes, size_t n, uint8_t* out) {
    for (size_t j = 0; j < n / 2; ++j)
        out[j] = static_cast<uint8_t>(codes[2 * j] | codes[2 * j + 1] << 4);
    if (n % 2) out[n / 2] = codes[n - 1];
}

void unpack4_ref(const uint8_t* in, size_t n, uint8_t* codes) {
    for (size_t k = 0; k < n; ++k)
        codes[k] = static_cast<uint8_t>((in[k >> 1] >> ((k & 1) * 4)) & 0xfu);
}

// Runs `term(i, partials)` over x[0..n) in the block order of kernels.hpp; `flush(partials)`
// combines one block.
template <size_t K, class Term>
void blocked_sums(size_t n, Term term, double* totals) {
    for (size_t b = 0; b < n; b += kSumBlock) {
        const size_t e = std::min(n, b + kSumBlock);
        float p[K][kSumLanes] = {};
        for (size_t i = b; i < e; ++i)
            term(i, (i - b) % kSumLanes, p);
        for (size_t k = 0; k < K; ++k)
            totals[k] += static_cast<double>(combine_partials(p[k]));
    }
}

void error_sums_ref(const float* r, const float* q, size_t n, ErrorSums* s) {
    double t[6] = {};
    float mx = s->max_abs_err;
    blocked_sums<6>(
        n,
        [&](size_t i, size_t lane, float(*p)[kSumLanes]) {
            const float e = r[i] - q[i];
            p[0][lane] += e * e;
            p[1][lane] += r[i] * r[i];
            p[2][lane] += q[i] * q[i];
            p[3][lane] += r[i];
            p[4][lane] += q[i];
            p[5][lane] += r[i] * q[i];
            mx = std::max(mx, std::fabs(e));
        },
        t);
    s->sq_err += t[0];
    s->sq_ref += t[1];
    s->sq_q += t[2];
    s->ref += t[3];
    s->q += t[4];
    s->ref_q += t[5];
    s->max_abs_err = mx;
}

double dot_ref(const float* a, const float* b, size_t n) {
    double t = 0;
    blocked_sums<1>(
        n, [&](size_t i, size_t lane, float(*p)[kSumLanes]) { p[0][lane] += a[i] * b[i]; }, &t);
    return t;
}

double sq_diff_ref(const float* a, const float* b, size_t n) {
    double t = 0;
    blocked_sums<1>(
        n,
        [&](size_t i, size_t lane, float(*p)[kSumLanes]) {
            const float d = a[i] - b[i];
            p[0][lane] += d * d;
        },
        &t);
    return t;
}

// Code k of a bit-packed row (quant/layout.hpp): bits [k * bits, k * bits + bits) of a
// little-endian bit stream.
uint32_t packed_code(const uint8_t* p, size_t k, int bits) {
    const size_t bit = k * static_cast<size_t>(bits);
    uint32_t v = p[bit >> 3];
    if ((bit & 7) + static_cast<size_t>(bits) > 8)
        v |= static_cast<uint32_t>(p[(bit >> 3) + 1]) << 8;
    return (v >> (bit & 7)) & ((1u << bits) - 1u);
}

void quantize_q8_ref(const float* x, size_t n, int8_t* q, float* d, int32_t* sums) {
    for (size_t b = 0; b < n / kQ8Block; ++b) {
        const float* xb = x + b * kQ8Block;
        int8_t* qb = q + b * kQ8Block;
        bool finite = true;
        float amax = 0.0f;
        for (size_t i = 0; i < kQ8Block; ++i) {
            finite = finite && std::isfinite(xb[i]);
            amax = std::max(amax, std::fabs(xb[i]));
        }
        const float db = finite ? amax / 127.0f : std::numeric_limits<float>::quiet_NaN();
        int32_t sum = 0;
        for (size_t i = 0; i < kQ8Block; ++i) {
            const float v =
                finite && db != 0.0f ? std::clamp(std::rint(xb[i] / db), -127.0f, 127.0f) : 0.0f;
            qb[i] = static_cast<int8_t>(v);
            sum += qb[i];
        }
        d[b] = db;
        sums[b] = sum;
    }
}

void packed_dot_q8_ref(const PackedRow& w, const Q8Rows& x, size_t n_x, float* y, size_t y_stride) {
    const size_t nb = w.cols / kQ8Block;
    for (size_t t = 0; t < n_x; ++t) {
        const int8_t* q = x.q + t * x.cols;
        const float* d = x.d + t * nb;
        const int32_t* sums = x.sums + t * nb;
        float p[kSumLanes] = {};
        for (size_t j = 0; j < nb; ++j) {
            const size_t g = j * kQ8Block / w.group;
            const auto zero = static_cast<int32_t>(packed_code(w.zeros, g, w.bits));
            int32_t dot = 0;
            for (size_t c = j * kQ8Block; c < (j + 1) * kQ8Block; ++c)
                dot += static_cast<int32_t>(packed_code(w.codes, c, w.bits)) * q[c];
            const int32_t i = dot - zero * sums[j];
            p[j % kSumLanes] += (static_cast<float>(i) * d[j]) * sutra::f16_to_f32(w.scales[g]);
        }
        y[t * y_stride] = combine_partials(p);
    }
}

void packed_dot_q8_panel_ref(const PackedRow& w, const Q8Panel& x, size_t n, float* y,
                             size_t y_stride) {
    const size_t nb = w.cols / kQ8Block;
    for (size_t t = 0; t < n; ++t) {
        float p[kSumLanes] = {};
        for (size_t j = 0; j < nb; ++j) {
            const size_t g = j * kQ8Block / w.group;
            const auto zero = static_cast<int32_t>(packed_code(w.zeros, g, w.bits));
            int32_t dot = 0;
            for (size_t c = 0; c < kQ8Block; ++c) {
                const size_t k = c / 4, e = c % 4;
                dot += static_cast<int32_t>(packed_code(w.codes, j * kQ8Block + c, w.bits)) *
                       x.q[((8 * j + k) * kQ8Panel + t) * 4 + e];
            }
            const int32_t i = dot - zero * static_cast<int32_t>(x.sums[j * kQ8Panel + t]);
            p[j % kSumLanes] +=
                (static_cast<float>(i) * x.d[j * kQ8Panel + t]) * sutra::f16_to_f32(w.scales[g]);
        }
        y[t * y_stride] = combine_partials(p);
    }
}

void packed_dot_f32_ref(const PackedRow& w, const float* x, size_t x_stride, size_t n_x, float* y,
                        size_t y_stride) {
    for (size_t t = 0; t < n_x; ++t) {
        const float* xt = x + t * x_stride;
        float total = 0.0f;
        for (size_t g = 0; g < w.n_groups; ++g) {
            const size_t start = g * w.group;
            const size_t width = g + 1 < w.n_groups ? w.group : w.cols - start;
            const auto zero = static_cast<float>(packed_code(w.zeros, g, w.bits));
            float p[kSumLanes] = {};
            for (size_t i = 0; i < width; ++i)
                p[i % kSumLanes] +=
                    (static_cast<float>(packed_code(w.codes, start + i, w.bits)) - zero) *
                    xt[start + i];
            total += combine_partials(p) * sutra::f16_to_f32(w.scales[g]);
        }
        y[t * y_stride] = total;
    }
}

float rtn_value_ref(const RtnRow& r, size_t i) {
    switch (r.format) {
        case RowFormat::f16:
            return sutra::f16_to_f32(static_cast<const uint16_t*>(r.values)[i]);
        case RowFormat::bf16:
            return sutra::bf16_to_f32(static_cast<const uint16_t*>(r.values)[i]);
        case RowFormat::f32:
            break;
    }
    return static_cast<const float*>(r.values)[i];
}

// quant/rtn.hpp's formula, group by group, the codes bit-packed as quant/layout.hpp says.
bool rtn_row_ref(const RtnRow& r) {
    const float qmax = static_cast<float>((1u << r.bits) - 1u);
    std::memset(r.codes, 0, (r.cols * static_cast<size_t>(r.bits) + 7) / 8);
    for (size_t g = 0; g < r.n_groups; ++g) {
        const size_t start = g * r.group;
        const size_t width = g + 1 < r.n_groups ? r.group : r.cols - start;
        float lo = rtn_value_ref(r, start), hi = lo;
        for (size_t i = start; i < start + width; ++i) {
            const float v = rtn_value_ref(r, i);
            if (!std::isfinite(v)) return false;
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        const float raw_scale = std::max(hi - lo, 1e-5f) / qmax;
        if (!(raw_scale <= 65504.0f)) return false;  // quant::kMaxF16Scale
        uint16_t s16 = sutra::f32_to_f16(raw_scale);
        if (s16 == 0) s16 = 1;  // the smallest subnormal, 2^-24
        const float scale = sutra::f16_to_f32(s16);
        const float zero = std::clamp(std::rint(-lo / scale), 0.0f, qmax);
        r.scales[g] = s16;
        r.zeros[g] = static_cast<uint8_t>(zero);
        for (size_t i = start; i < start + width; ++i) {
            const auto q = static_cast<uint32_t>(
                std::clamp(std::rint(rtn_value_ref(r, i) / scale) + zero, 0.0f, qmax));
            const size_t bit = i * static_cast<size_t>(r.bits);
            const uint32_t v = q << (bit & 7);
            r.codes[bit >> 3] |= static_cast<uint8_t>(v & 0xffu);
            if ((bit & 7) + static_cast<size_t>(r.bits) > 8)
                r.codes[(bit >> 3) + 1] |= static_cast<uint8_t>(v >> 8);
        }
    }
    return true;
}

}  // namespace

void q8_nibble_order(const int8_t* q, size_t cols, int8_t* out) {
    constexpr size_t half = kQ8NibbleChunk / 2;
    for (size_t c = 0; c + kQ8NibbleChunk <= cols; c += kQ8NibbleChunk)
        for (size_t i = 0; i < half; ++i) {
            out[c + i] = q[c + 2 * i];
            out[c + half + i] = q[c + 2 * i + 1];
        }
}

void make_q8_panel(const Q8Rows& x, size_t n, int8_t* q, float* d, float* sums) {
    const size_t nb = x.cols / kQ8Block;
    for (size_t j = 0; j < nb; ++j) {
        for (size_t t = 0; t < kQ8Panel; ++t) {
            const bool row = t < n;
            d[j * kQ8Panel + t] = row ? x.d[t * nb + j] : 0.0f;
            sums[j * kQ8Panel + t] = row ? static_cast<float>(x.sums[t * nb + j]) : 0.0f;
            for (size_t k = 0; k < 8; ++k) {
                int8_t* to = q + ((8 * j + k) * kQ8Panel + t) * 4;
                if (row)
                    std::memcpy(to, x.q + t * x.cols + j * kQ8Block + 4 * k, 4);
                else
                    std::memset(to, 0, 4);
            }
        }
    }
}

const Kernels& scalar_kernels() {
    static const Kernels k{"scalar",           f16_to_f32_ref,
                           bf16_to_f32_ref,    min_max_ref,
                           quantize_ref,       dequantize_ref,
                           pack4_ref,          unpack4_ref,
                           error_sums_ref,     dot_ref,
                           sq_diff_ref,        quantize_q8_ref,
                           packed_dot_q8_ref,  packed_dot_q8_panel_ref,
                           packed_dot_f32_ref, rtn_row_ref};
    return k;
}

}  // namespace sutra::simd
