// The forward pass's worker pool (base/worker_pool.hpp): every item runs exactly once, on any
// width; the first failing item's exception reaches the caller; a loop started from inside a
// loop runs on its caller; and loops posted back to back (workers still looking for work) or
// after the workers fell asleep (longer than their spin) all complete.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "sutra/base/worker_pool.hpp"

using sutra::WorkerPool;

TEST_CASE("worker pool: every item runs once, for every width", "[worker-pool]") {
    for (unsigned threads : {1u, 2u, 3u, 8u}) {
        WorkerPool pool(threads);
        CHECK(pool.threads() == threads);
        for (size_t n : {0u, 1u, 2u, 7u, 1000u}) {
            std::vector<std::atomic<int>> hits(n);
            pool.run(n, [&](size_t i) { hits[i].fetch_add(1); });
            for (size_t i = 0; i < n; ++i)
                CHECK(hits[i].load() == 1);
        }
    }
}

TEST_CASE("worker pool: loops back to back and after the workers sleep", "[worker-pool]") {
    WorkerPool pool(3);
    std::atomic<uint64_t> sum{0};
    uint64_t expect = 0;
    // Thousands of tiny loops: the workers are still spinning from the last one when the next
    // is posted, or arrive after it is over.
    for (int loop = 0; loop < 20000; ++loop) {
        const size_t n = 1 + static_cast<size_t>(loop % 5);
        pool.run(n, [&](size_t i) { sum.fetch_add(i + 1); });
        expect += n * (n + 1) / 2;
    }
    CHECK(sum.load() == expect);
    // Pauses longer than the spin: the workers go to sleep and must be woken.
    for (int loop = 0; loop < 5; ++loop) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        std::vector<std::atomic<int>> hits(64);
        pool.run(hits.size(), [&](size_t i) {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
            hits[i].fetch_add(1);
        });
        for (auto& h : hits)
            CHECK(h.load() == 1);
    }
}

TEST_CASE("worker pool: the lowest failing item's exception reaches the caller", "[worker-pool]") {
    WorkerPool pool(2);
    for (int round = 0; round < 20; ++round) {
        try {
            pool.run(100, [](size_t i) {
                if (i == 37 || i == 90) throw std::runtime_error("item " + std::to_string(i));
            });
            FAIL("no exception");
        } catch (const std::runtime_error& e) {
            // Items after 37 may not run at all once it failed; 90's can only win if 37's
            // never ran, which it always does.
            CHECK(std::string(e.what()) == "item 37");
        }
        // The pool is usable after a failure.
        std::atomic<int> n{0};
        pool.run(10, [&](size_t) { n.fetch_add(1); });
        CHECK(n.load() == 10);
    }
}

TEST_CASE("worker pool: a loop inside a loop runs on its caller", "[worker-pool]") {
    WorkerPool pool(2);
    std::vector<std::atomic<int>> hits(8 * 8);
    pool.run(8, [&](size_t i) {
        const auto me = std::this_thread::get_id();
        pool.run(8, [&](size_t j) {
            CHECK(std::this_thread::get_id() == me);
            hits[i * 8 + j].fetch_add(1);
        });
    });
    for (auto& h : hits)
        CHECK(h.load() == 1);
}
