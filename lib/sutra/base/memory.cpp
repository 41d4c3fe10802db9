#include "sutra/base/memory.hpp"

#include <sys/resource.h>

namespace sutra {

uint64_t peak_rss_bytes() {
    struct rusage ru {};
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return static_cast<uint64_t>(ru.ru_maxrss) * 1024u;  // Linux reports KiB
}

}  // namespace sutra
