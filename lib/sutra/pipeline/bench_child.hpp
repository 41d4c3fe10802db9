#pragma once
// Runs one piece of `sutra bench` work in a child process of its own (fork, no exec), so that
// what it measures is its own: a process's peak resident set (VmHWM) only grows, and memory
// the allocator keeps after one method would count against the next. The child inherits the
// parent's memory (calibration and evaluation tokens need no copying), starts a new peak, runs
// the work, sends its JSON result (or its error) back through a pipe and exits with _exit, so
// no destructor or stdio buffer of the parent runs twice.
//
// Fork-safe because the bench parent holds no threads of its own when it forks (parallel_for
// joins its threads before returning; OpenBLAS shuts its pool down in a pthread_atfork handler
// and restarts it in the child).
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "sutra/base/error.hpp"

namespace sutra::pipeline {

struct ChildResult {
    nlohmann::json value;          // what the work returned
    uint64_t peak_rss_bytes = 0;   // the child's VmHWM, its peak since it started the work
    uint64_t start_rss_bytes = 0;  // its VmRSS when it started (memory shared with the parent)
};

// `what` names the work in errors ("quantize awq 4-bit"). The work's own error comes back with
// its code and message; a child that dies (a signal, e.g. the kernel's out-of-memory killer)
// or exits without a result is an internal error naming `what` and the signal; fork or pipe
// failure is Errc::io.
Result<ChildResult> run_in_child(const std::string& what,
                                 const std::function<Result<nlohmann::json>()>& work);

}  // namespace sutra::pipeline
