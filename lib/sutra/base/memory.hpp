#pragma once
#include <cstdint>

namespace sutra {

// Peak resident set size of this process so far, in bytes (getrusage ru_maxrss).
uint64_t peak_rss_bytes();

}  // namespace sutra
