// The kernel table for NEON on 64-bit Arm (built only there; see lib/CMakeLists.txt).
#define SUTRA_SIMD_ARCH xsimd::neon64
#define SUTRA_SIMD_NS neon64
#define SUTRA_SIMD_NAME "neon"
#include "sutra/simd/kernels_impl.hpp"
