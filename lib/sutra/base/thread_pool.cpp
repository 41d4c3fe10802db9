#include "sutra/base/thread_pool.hpp"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace sutra {

unsigned default_threads() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        const int n = CPU_COUNT(&set);
        if (n > 0) return static_cast<unsigned>(n);
    }
    return std::max(1u, std::thread::hardware_concurrency());
}

void parallel_for(size_t n, unsigned threads, const std::function<void(size_t)>& fn) {
    const size_t t = std::min<size_t>(std::max(threads, 1u), n);
    if (t <= 1) {
        for (size_t i = 0; i < n; ++i)
            fn(i);
        return;
    }
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex m;
    size_t error_item = n;
    std::exception_ptr error;
    auto run = [&] {
        for (size_t i; !failed.load() && (i = next.fetch_add(1)) < n;) {
            try {
                fn(i);
            } catch (...) {
                std::lock_guard lock(m);
                if (i < error_item) {
                    error_item = i;
                    error = std::current_exception();
                }
                failed.store(true);
            }
        }
    };
    std::vector<std::thread> pool;
    for (size_t k = 1; k < t; ++k)
        pool.emplace_back(run);
    run();
    for (auto& th : pool)
        th.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace sutra
