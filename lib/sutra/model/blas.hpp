#pragma once
// The matrix product of the forward pass and of the AWQ search, through OpenBLAS, and the
// guard that keeps OpenBLAS single-threaded while it runs: sgemm results depend on its thread
// count (the split decides which rows take the kernel's tail paths), and sutra's results must
// not.
#include <cstdint>

namespace sutra::model {

class SingleThreadedBlas {
  public:
    SingleThreadedBlas();
    ~SingleThreadedBlas();
    SingleThreadedBlas(const SingleThreadedBlas&) = delete;
    SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

  private:
    int previous_;
};

// OpenBLAS picks its kernels once, when it is loaded, from the CPU's model number; on a CPU
// newer than the OpenBLAS build (Debian 12's 0.3.21 does not know e.g. Sapphire or Emerald
// Rapids) it falls back to its SSE3 "Prescott" kernels, 3-5x slower than its AVX2 / AVX-512
// ones. Call first thing in main(): when OpenBLAS fell back, OPENBLAS_CORETYPE is unset and
// the CPU has AVX-512 (SkylakeX kernels) or AVX2 + FMA (Haswell kernels), the process
// re-executes itself once with OPENBLAS_CORETYPE set to those kernels; otherwise (and if the
// re-execution fails) it returns and nothing changes. The kernels in use: blas_core_name().
void select_blas_kernels(char** argv);
const char* blas_core_name();

// y [rows, out] = x [rows, in] * W^T, W [out, in] row-major. Call under SingleThreadedBlas.
void matmul_wt(const float* x, int64_t rows, int64_t in, const float* w, int64_t out, float* y);

}  // namespace sutra::model
