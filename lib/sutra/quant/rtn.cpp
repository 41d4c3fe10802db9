#include "sutra/quant/rtn.hpp"

#include <algorithm>
#include <cmath>

#include "sutra/base/half.hpp"
#include "sutra/simd/kernels.hpp"

namespace sutra::quant {

bool rtn_group_params(float lo, float hi, float qmax, uint16_t* s16_out, float* scale,
                      float* zero) {
    const float raw_scale = std::max(hi - lo, 1e-5f) / qmax;
    if (!(raw_scale <= kMaxF16Scale)) return false;
    uint16_t s16 = f32_to_f16(raw_scale);
    if (s16 == 0) s16 = 1;  // the smallest subnormal, 2^-24
    *s16_out = s16;
    *scale = f16_to_f32(s16);
    *zero = std::clamp(std::rint(-lo / *scale), 0.0f, qmax);
    return true;
}

RowStatus quantize_row_rtn(const float* w, const QuantLayout& l, uint8_t* codes, uint16_t* scales,
                           uint8_t* zeros, size_t* bad_index) {
    const float qmax = static_cast<float>((1u << l.bits) - 1u);
    for (uint64_t g = 0; g < l.n_groups; ++g) {
        const uint64_t start = g * l.group;
        const uint64_t width = l.group_width(g);
        const float* x = w + start;
        float lo = x[0], hi = x[0];
        for (uint64_t i = 0; i < width; ++i) {
            if (!std::isfinite(x[i])) {
                *bad_index = static_cast<size_t>(start + i);
                return RowStatus::not_finite;
            }
            lo = std::min(lo, x[i]);
            hi = std::max(hi, x[i]);
        }
        float scale = 0, zero = 0;
        if (!rtn_group_params(lo, hi, qmax, &scales[g], &scale, &zero)) {
            *bad_index = static_cast<size_t>(start);
            return RowStatus::scale_overflow;
        }
        zeros[g] = static_cast<uint8_t>(zero);
        for (uint64_t i = 0; i < width; ++i) {
            const float q = std::clamp(std::rint(x[i] / scale) + zero, 0.0f, qmax);
            codes[start + i] = static_cast<uint8_t>(q);
        }
    }
    return RowStatus::ok;
}

void dequantize_row(const uint8_t* codes, const uint16_t* scales, const uint8_t* zeros,
                    const QuantLayout& l, float* out) {
    for (uint64_t g = 0; g < l.n_groups; ++g) {
        const uint64_t start = g * l.group;
        const uint64_t width = l.group_width(g);
        const float scale = f16_to_f32(scales[g]);
        const float zero = static_cast<float>(zeros[g]);
        for (uint64_t i = 0; i < width; ++i)
            out[start + i] = (static_cast<float>(codes[start + i]) - zero) * scale;
    }
}

RowStatus quantize_row_rtn(const simd::Kernels& k, const float* w, const QuantLayout& l,
                           uint8_t* codes, uint16_t* scales, uint8_t* zeros, size_t* bad_index) {
    const float qmax = static_cast<float>((1u << l.bits) - 1u);
    for (uint64_t g = 0; g < l.n_groups; ++g) {
        const uint64_t start = g * l.group;
        const uint64_t width = l.group_width(g);
        float lo = 0, hi = 0;
        if (!k.min_max(w + start, width, &lo, &hi))  // the reference finds the element
            return quantize_row_rtn(w, l, codes, scales, zeros, bad_index);
        float scale = 0, zero = 0;
        if (!rtn_group_params(lo, hi, qmax, &scales[g], &scale, &zero)) {
            *bad_index = static_cast<size_t>(start);
            return RowStatus::scale_overflow;
        }
        zeros[g] = static_cast<uint8_t>(zero);
        k.quantize(w + start, width, scale, zero, qmax, codes + start);
    }
    return RowStatus::ok;
}

void dequantize_row(const simd::Kernels& k, const uint8_t* codes, const uint16_t* scales,
                    const uint8_t* zeros, const QuantLayout& l, float* out) {
    for (uint64_t g = 0; g < l.n_groups; ++g) {
        const uint64_t start = g * l.group;
        k.dequantize(codes + start, l.group_width(g), f16_to_f32(scales[g]),
                     static_cast<float>(zeros[g]), out + start);
    }
}

void pack_row_codes(const simd::Kernels& k, const uint8_t* codes, size_t n, int bits,
                    uint8_t* out) {
    if (bits == 4)
        k.pack4(codes, n, out);
    else
        pack_codes(codes, n, bits, out);
}

void unpack_row_codes(const simd::Kernels& k, const uint8_t* in, size_t n, int bits,
                      uint8_t* codes) {
    if (bits == 4)
        k.unpack4(in, n, codes);
    else
        unpack_codes(in, n, bits, codes);
}

}  // namespace sutra::quant
