// The kernel table for avx512bw (built with its compiler flags; see lib/CMakeLists.txt).
#define SUTRA_SIMD_ARCH xsimd::avx512bw
#define SUTRA_SIMD_NS avx512bw
#define SUTRA_SIMD_NAME "avx512bw"
#include "sutra/simd/kernels_impl.hpp"
