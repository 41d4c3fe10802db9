// The kernel table for sse4_2 (built with its compiler flags; see lib/CMakeLists.txt).
#define SUTRA_SIMD_ARCH xsimd::sse4_2
#define SUTRA_SIMD_NS sse4_2
#define SUTRA_SIMD_NAME "sse4.2"
#include "sutra/simd/kernels_impl.hpp"
