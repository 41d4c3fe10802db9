#pragma once
// Plain fork-join parallelism: work items 0..n-1 handed out in order to `threads` threads.
// Results must not depend on which thread ran an item (each item writes only its own
// outputs), so output is the same for every thread count.
#include <cstddef>
#include <functional>

namespace sutra {

// The threads this process may run on (its CPU affinity), at least 1.
unsigned default_threads();

// Runs fn(i) for i in [0, n) on up to `threads` threads (the caller is one of them) and
// returns when all are done. An exception from fn is rethrown in the caller (the first one
// by item index), after every thread has stopped.
void parallel_for(size_t n, unsigned threads, const std::function<void(size_t)>& fn);

}  // namespace sutra
