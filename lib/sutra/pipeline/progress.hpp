#pragma once
// How long-running library calls report progress. The library calls these from the thread
// that runs the command; the CLI decides whether and how to show them (a bar on a terminal).
#include <cstdint>
#include <string_view>

namespace sutra::pipeline {

class ProgressObserver {
  public:
    virtual ~ProgressObserver() = default;
    // A stage starts: total work in bytes of input.
    virtual void on_stage(std::string_view /*stage*/, uint64_t /*total_bytes*/) {}
    // Work advanced: `name` is the tensor in flight, done_bytes the running total.
    virtual void on_progress(std::string_view /*name*/, uint64_t /*done_bytes*/) {}
    virtual void on_stage_end() {}
};

}  // namespace sutra::pipeline
