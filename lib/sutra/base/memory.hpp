#pragma once
#include <cstdint>

namespace sutra {

// Peak resident set size of this process since start or the last reset_peak_rss(), in bytes
// (VmHWM of /proc/self/status; getrusage's ru_maxrss where that is missing).
uint64_t peak_rss_bytes();
// Resident set size now, in bytes (VmRSS); 0 when unknown.
uint64_t current_rss_bytes();
// Starts a new peak from the current RSS (Linux: /proc/self/clear_refs); false if unsupported.
bool reset_peak_rss();

}  // namespace sutra
