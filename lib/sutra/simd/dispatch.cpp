#include "sutra/simd/dispatch.hpp"

#include <atomic>

namespace sutra::simd {

// The per-ISA tables (kernels_<isa>.cpp), present only in builds for that architecture.
#if defined(__x86_64__)
namespace sse4_2 {
const Kernels& kernels();
}
namespace avx2 {
const Kernels& kernels();
}
namespace avx512bw {
const Kernels& kernels();
}
#elif defined(__aarch64__)
namespace neon64 {
const Kernels& kernels();
}
#endif

namespace {

struct Entry {
    const char* name;
    const Kernels* (*table)();
    bool (*cpu_has)();
};

const Entry* entries(size_t* n) {
    // Best first. __builtin_cpu_supports checks that the OS saves the wider registers too.
    static const Entry e[] = {
#if defined(__x86_64__)
        {"avx512bw", [] { return &avx512bw::kernels(); },
         [] {
             return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd");
         }},
        {"avx2", [] { return &avx2::kernels(); },
         [] { return bool(__builtin_cpu_supports("avx2")); }},
        {"sse4.2", [] { return &sse4_2::kernels(); },
         [] { return bool(__builtin_cpu_supports("sse4.2")); }},
#elif defined(__aarch64__)
        {"neon", [] { return &neon64::kernels(); }, [] { return true; }},
#endif
        {"scalar", [] { return &scalar_kernels(); }, [] { return true; }},
    };
    *n = sizeof(e) / sizeof(e[0]);
    return e;
}

const Kernels* best() {
    size_t n = 0;
    const Entry* e = entries(&n);
    for (size_t i = 0; i < n; ++i)
        if (e[i].cpu_has()) return e[i].table();
    return &scalar_kernels();
}

std::atomic<const Kernels*>& current() {
    static std::atomic<const Kernels*> k{best()};
    return k;
}

}  // namespace

std::vector<std::string> available_isas() {
    std::vector<std::string> out;
    size_t n = 0;
    const Entry* e = entries(&n);
    for (size_t i = 0; i < n; ++i)
        if (e[i].cpu_has()) out.emplace_back(e[i].name);
    return out;
}

std::vector<std::string> known_isas() {
    std::vector<std::string> out;
    size_t n = 0;
    const Entry* e = entries(&n);
    for (size_t i = 0; i < n; ++i)
        out.emplace_back(e[i].name);
    return out;
}

const Kernels& active() {
    return *current().load(std::memory_order_relaxed);
}

Result<const Kernels*> kernels_for(std::string_view isa) {
    size_t n = 0;
    const Entry* e = entries(&n);
    for (size_t i = 0; i < n; ++i) {
        if (isa != e[i].name) continue;
        if (!e[i].cpu_has())
            return make_error(Errc::unsupported, "instruction set '" + std::string(isa) +
                                                     "' is not supported by this CPU");
        return e[i].table();
    }
    std::string names;
    for (const auto& a : available_isas())
        names += (names.empty() ? "" : ", ") + a;
    return make_error(Errc::invalid_argument, "unknown instruction set '" + std::string(isa) +
                                                  "'; this machine has: auto, " + names);
}

Status set_isa(std::string_view isa) {
    if (isa == "auto" || isa.empty()) {
        current().store(best());
        return {};
    }
    SUTRA_ASSIGN(const Kernels* k, kernels_for(isa));
    current().store(k);
    return {};
}

}  // namespace sutra::simd
