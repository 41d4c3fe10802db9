#pragma once
// Micro-benchmarks of every kernel (simd/kernels.hpp) on every instruction set this CPU has,
// against the scalar reference measured in the same run: `sutra bench --kernels`.
#include <cstdint>
#include <string>
#include <vector>

namespace sutra::pipeline {

struct KernelTiming {
    std::string kernel;  // "f16_to_f32", ..., and "quantize_row_q4_g128" (a whole row)
    std::string isa;
    uint64_t elements = 0;  // per call
    double ns_per_element_median = 0;
    double ns_per_element_min = 0;
    double gb_per_s = 0;           // input bytes per second at the median
    double speedup_vs_scalar = 0;  // scalar median / this median
};

// `elements` values per call; each measurement repeats calls for about `min_seconds`, `runs`
// measurements per kernel and ISA.
std::vector<KernelTiming> bench_kernels(uint64_t elements, int runs, double min_seconds);

}  // namespace sutra::pipeline
