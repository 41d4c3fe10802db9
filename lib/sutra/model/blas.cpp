#include "sutra/model/blas.hpp"

#include <cblas.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

extern "C" char* openblas_get_corename(void);

namespace sutra::model {

SingleThreadedBlas::SingleThreadedBlas() : previous_(openblas_get_num_threads()) {
    if (previous_ != 1) openblas_set_num_threads(1);
}

SingleThreadedBlas::~SingleThreadedBlas() {
    if (previous_ != 1) openblas_set_num_threads(previous_);
}

void select_blas_kernels(char** argv) {
    if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("SUTRA_BLAS_SELECTED")) return;
    const char* core = openblas_get_corename();
    const bool fallback =
        core && (std::strcmp(core, "Prescott") == 0 || std::strcmp(core, "Core2") == 0 ||
                 std::strcmp(core, "Nehalem") == 0);
    if (!fallback) return;
    const char* want = nullptr;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("SUTRA_BLAS_SELECTED", "1", 1);  // never twice, whatever happens
    execv("/proc/self/exe", argv);
    // Still here: the re-execution failed; carry on with the kernels OpenBLAS chose.
    unsetenv("OPENBLAS_CORETYPE");
}

const char* blas_core_name() {
    return openblas_get_corename();
}

void matmul_wt(const float* x, int64_t rows, int64_t in, const float* w, int64_t out, float* y) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
                static_cast<int>(out), static_cast<int>(in), 1.0f, x, static_cast<int>(in), w,
                static_cast<int>(in), 0.0f, y, static_cast<int>(out));
}

}  // namespace sutra::model
