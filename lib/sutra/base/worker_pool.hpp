#pragma once
// A persistent pool of threads for short parallel loops that run very often: the matrix
// products of the forward pass (a 1B Llama runs about 150 per generated token, each a fraction
// of a millisecond), where parallel_for's thread start on every call would cost as much as the
// work. The workers sleep on a condition variable between loops.
//
// As with parallel_for, items 0..n-1 are handed out in order to whichever thread is free, and
// each item must write only its own outputs, so results do not depend on the thread count.
#include <cstddef>
#include <functional>
#include <memory>

namespace sutra {

class WorkerPool {
  public:
    // `threads` >= 1 (0 is taken as 1): threads - 1 workers are started; the caller of run()
    // is the other thread.
    explicit WorkerPool(unsigned threads);
    ~WorkerPool();  // stops and joins the workers
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    unsigned threads() const;

    // Runs fn(i) for i in [0, n) on the pool's threads and the caller's, and returns when all
    // are done. An exception from fn is rethrown in the caller (the first one by item index)
    // after every thread has stopped taking items. When the pool is already running a loop (a
    // call from another thread, or from inside fn), this call runs its items itself, in order,
    // on the calling thread.
    void run(size_t n, const std::function<void(size_t)>& fn);

  private:
    struct State;
    std::unique_ptr<State> s_;
};

// The process's pool for the forward pass, `threads` wide (0: default_threads()). Created on
// first use; a call asking for another width replaces it (so do not change the width while a
// loop runs on it). A child process made by fork() gets a pool of its own on its first call:
// the parent's workers do not exist in it.
WorkerPool& shared_pool(unsigned threads);

}  // namespace sutra
