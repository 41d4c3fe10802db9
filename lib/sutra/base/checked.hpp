#pragma once
// Overflow-checked unsigned arithmetic for sizes and offsets read from untrusted files.
#include <cstdint>
#include <optional>
#include <span>

namespace sutra {

inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
    uint64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
    return r;
}

inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
    uint64_t r = 0;
    if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
    return r;
}

// Product of all dimensions (1 for a scalar shape []); nullopt on overflow.
inline std::optional<uint64_t> checked_product(std::span<const uint64_t> dims) {
    uint64_t n = 1;
    for (uint64_t d : dims) {
        auto m = checked_mul(n, d);
        if (!m) return std::nullopt;
        n = *m;
    }
    return n;
}

}  // namespace sutra
