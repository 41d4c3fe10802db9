#include "sutra/quant/rtn.hpp"

#include <algorithm>
#include <cmath>

#include "sutra/base/half.hpp"

namespace sutra::quant {

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
        const float raw_scale = std::max(hi - lo, 1e-5f) / qmax;
        if (!(raw_scale <= kMaxF16Scale)) {
            *bad_index = static_cast<size_t>(start);
            return RowStatus::scale_overflow;
        }
        uint16_t s16 = f32_to_f16(raw_scale);
        if (s16 == 0) s16 = 1;  // the smallest subnormal, 2^-24
        const float scale = f16_to_f32(s16);
        const float zero = std::clamp(std::nearbyint(-lo / scale), 0.0f, qmax);
        scales[g] = s16;
        zeros[g] = static_cast<uint8_t>(zero);
        for (uint64_t i = 0; i < width; ++i) {
            const float q = std::clamp(std::nearbyint(x[i] / scale) + zero, 0.0f, qmax);
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

}  // namespace sutra::quant
