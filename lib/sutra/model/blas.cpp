#include "sutra/model/blas.hpp"

#include <cblas.h>

namespace sutra::model {

SingleThreadedBlas::SingleThreadedBlas() : previous_(openblas_get_num_threads()) {
    if (previous_ != 1) openblas_set_num_threads(1);
}

SingleThreadedBlas::~SingleThreadedBlas() {
    if (previous_ != 1) openblas_set_num_threads(previous_);
}

void matmul_wt(const float* x, int64_t rows, int64_t in, const float* w, int64_t out, float* y) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
                static_cast<int>(out), static_cast<int>(in), 1.0f, x, static_cast<int>(in), w,
                static_cast<int>(in), 0.0f, y, static_cast<int>(out));
}

}  // namespace sutra::model
