#include "sutra/base/memory.hpp"

#include <sys/resource.h>

#include <cstdio>
#include <cstring>

namespace sutra {
namespace {

// A "Name:   123 kB" line of /proc/self/status, in bytes; 0 when absent.
uint64_t status_kib(const char* field) {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    uint64_t v = 0;
    const size_t len = std::strlen(field);
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, field, len) == 0 && line[len] == ':') {
            unsigned long long kib = 0;
            if (std::sscanf(line + len + 1, "%llu", &kib) == 1) v = kib * 1024u;
            break;
        }
    }
    std::fclose(f);
    return v;
}

}  // namespace

uint64_t peak_rss_bytes() {
    if (const uint64_t hwm = status_kib("VmHWM")) return hwm;
    struct rusage ru {};
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return static_cast<uint64_t>(ru.ru_maxrss) * 1024u;  // Linux reports KiB
}

uint64_t current_rss_bytes() {
    return status_kib("VmRSS");
}

bool reset_peak_rss() {
    std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    const bool ok = std::fputs("5", f) >= 0;
    return std::fclose(f) == 0 && ok;
}

}  // namespace sutra
