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

// y [rows, out] = x [rows, in] * W^T, W [out, in] row-major. Call under SingleThreadedBlas.
void matmul_wt(const float* x, int64_t rows, int64_t in, const float* w, int64_t out, float* y);

}  // namespace sutra::model
