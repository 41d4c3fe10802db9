// The kernel table for avx2 (built with its compiler flags; see lib/CMakeLists.txt).
#define SUTRA_SIMD_ARCH xsimd::avx2
#define SUTRA_SIMD_NS avx2
#define SUTRA_SIMD_NAME "avx2"
#include "sutra/simd/kernels_impl.hpp"
