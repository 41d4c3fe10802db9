#pragma once
// Run-time choice of the kernel table: the best instruction set this CPU has among those built
// in (x86-64: AVX-512BW, AVX2, SSE4.2; Arm: NEON), the scalar reference as fallback, or one
// forced by name (`--isa`, or the SUTRA_ISA environment variable, applied by the app).
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/simd/kernels.hpp"

namespace sutra::simd {

// Names of the instruction sets this binary was built with and this CPU runs, best first;
// "scalar" is always last.
std::vector<std::string> available_isas();
// Every name the binary knows (including ones this CPU lacks).
std::vector<std::string> known_isas();

// The table in use (the best available unless set_isa chose another).
const Kernels& active();
// The table of one available instruction set; an error names the available ones.
Result<const Kernels*> kernels_for(std::string_view isa);
// Selects the table used from now on: an available name, or "auto" (the best). Call it before
// starting threads.
Status set_isa(std::string_view isa);

}  // namespace sutra::simd
