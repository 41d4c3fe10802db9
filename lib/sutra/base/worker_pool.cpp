#include "sutra/base/worker_pool.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "sutra/base/thread_pool.hpp"

namespace sutra {

// Not in an anonymous namespace: WorkerPool::State (external linkage) holds a pointer to it.
namespace pool_detail {

// One loop of run(): lives on the caller's stack until every worker that took it has left it.
struct PoolLoop {
    const std::function<void(size_t)>* fn = nullptr;
    size_t n = 0;
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    // Workers inside work(): changed under State::m (for `done`), read without it by run()'s
    // spin.
    std::atomic<unsigned> users{0};
    size_t error_item = 0;
    std::exception_ptr error;  // under State::m

    // Takes items until there are none left (or one failed).
    void work(std::mutex& m) {
        for (size_t i; !failed.load(std::memory_order_relaxed) &&
                       (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) {
            try {
                (*fn)(i);
            } catch (...) {
                std::lock_guard lock(m);
                if (i < error_item) {
                    error_item = i;
                    error = std::current_exception();
                }
                failed.store(true);
            }
        }
    }
};

}  // namespace pool_detail

using pool_detail::PoolLoop;

// How long a worker that finished a loop keeps looking for the next one before it sleeps,
// and how long run() looks for the workers to leave its loop before it sleeps: the forward
// pass posts its products microseconds apart, and a wake-up through the kernel costs more
// than that on a busy machine. Bounded, so an idle pool sleeps.
constexpr auto kSpin = std::chrono::microseconds(200);

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Calls ready() until it is true or kSpin has passed; whether it became true.
template <class Ready>
bool spin_until(const Ready& ready) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (unsigned i = 0;; ++i) {
        if (ready()) return true;
        cpu_relax();
        if ((i & 63) == 63 && std::chrono::steady_clock::now() >= until) return false;
    }
}

struct WorkerPool::State {
    std::mutex m;
    std::condition_variable wake;         // a new job, or stop
    std::condition_variable done;         // a worker left a job
    std::atomic<uint64_t> generation{0};  // of the jobs posted (written under m)
    PoolLoop* job = nullptr;              // the job being run, if any (under m)
    std::atomic<bool> stop{false};
    std::atomic<bool> busy{false};  // a run() owns the pool
    unsigned sleeping = 0;          // workers waiting on `wake` (under m)
    std::vector<std::thread> workers;

    // A worker joins each job it sees posted; one that wakes after the job is over (job null)
    // sleeps again, so run() never waits for a slow wake-up.
    void worker() {
        uint64_t seen = 0;
        for (;;) {
            const bool posted = spin_until([&] {
                return stop.load(std::memory_order_relaxed) ||
                       generation.load(std::memory_order_acquire) != seen;
            });
            std::unique_lock lock(m);
            if (stop) return;
            if (!(job && generation != seen)) {
                if (posted) {  // a job posted while looking, and over already: look again
                    seen = generation;
                    continue;
                }
                ++sleeping;
                wake.wait(lock, [&] { return stop || (job && generation != seen); });
                --sleeping;
                if (stop) return;
            }
            seen = generation;
            PoolLoop* j = job;
            ++j->users;
            lock.unlock();
            j->work(m);
            lock.lock();
            if (--j->users == 0) done.notify_all();
        }
    }
};

WorkerPool::WorkerPool(unsigned threads) : s_(std::make_unique<State>()) {
    const unsigned t = std::max(threads, 1u);
    for (unsigned k = 1; k < t; ++k)
        s_->workers.emplace_back([s = s_.get()] { s->worker(); });
}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard lock(s_->m);
        s_->stop = true;
    }
    s_->wake.notify_all();
    for (auto& t : s_->workers)
        t.join();
}

unsigned WorkerPool::threads() const {
    return static_cast<unsigned>(s_->workers.size()) + 1;
}

void WorkerPool::run(size_t n, const std::function<void(size_t)>& fn) {
    bool idle = false;
    if (n <= 1 || s_->workers.empty() || !s_->busy.compare_exchange_strong(idle, true)) {
        for (size_t i = 0; i < n; ++i)
            fn(i);
        return;
    }
    State& s = *s_;
    PoolLoop job;
    job.fn = &fn;
    job.n = n;
    job.error_item = n;
    bool wake_workers = false;
    {
        std::lock_guard lock(s.m);
        s.job = &job;
        s.generation.fetch_add(1, std::memory_order_release);
        wake_workers = s.sleeping > 0;
    }
    if (wake_workers) s.wake.notify_all();
    job.work(s.m);
    // The workers still in the job are finishing their last items: look, then sleep.
    spin_until([&] { return job.users.load(std::memory_order_acquire) == 0; });
    {
        std::unique_lock lock(s.m);
        s.done.wait(lock, [&] { return job.users == 0; });
        s.job = nullptr;
    }
    s.busy.store(false);
    if (job.error) std::rethrow_exception(job.error);
}

namespace {

std::mutex& shared_pool_mutex() {
    static std::mutex m;
    return m;
}

WorkerPool*& shared_pool_slot() {
    static WorkerPool* p = nullptr;
    return p;
}

// fork() holds pool_mutex, so the child's copy is in a known state. In the child only the
// forking thread exists: the parent's pool (its workers) is abandoned, never destroyed, and a
// new one is made on first use.
void lock_shared_pool() {
    shared_pool_mutex().lock();
}
void unlock_shared_pool() {
    shared_pool_mutex().unlock();
}
void forget_shared_pool_in_child() {
    shared_pool_slot() = nullptr;
    shared_pool_mutex().unlock();
}

}  // namespace

WorkerPool& shared_pool(unsigned threads) {
    static const bool registered = [] {
        pthread_atfork(lock_shared_pool, unlock_shared_pool, forget_shared_pool_in_child);
        return true;
    }();
    (void)registered;
    // The default width is read once (a system call; this runs for every product).
    static const unsigned default_width = default_threads();
    const unsigned want = threads ? threads : default_width;
    std::lock_guard lock(shared_pool_mutex());
    WorkerPool*& p = shared_pool_slot();
    if (!p || p->threads() != want) {
        delete p;
        p = new WorkerPool(want);
    }
    return *p;
}

}  // namespace sutra
