#pragma once
// The fixed order of additions shared by every implementation of the sum kernels
// (kernels.hpp): kSumLanes f32 partials per block, combined pairwise.
#include <cstddef>

#include "sutra/simd/kernels.hpp"

namespace sutra::simd {

inline float combine_partials(float* p) {
    for (size_t step = kSumLanes / 2; step >= 1; step /= 2)
        for (size_t j = 0; j < step; ++j)
            p[j] += p[j + step];
    return p[0];
}

}  // namespace sutra::simd
