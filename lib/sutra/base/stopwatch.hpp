#pragma once
// Wall time for reports (never for results).
#include <chrono>

namespace sutra {

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace sutra
