#pragma once
// Time spent per stage of the quantize pipeline, summed over the threads that did the work
// (so with several threads the stages add up to more than the wall-clock time).
#include <array>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace sutra::pipeline {

// quantize is one pass per row from the stored values (F32/F16/BF16) to the packed codes, F16
// scales and packed zero points: conversion and packing are part of it.
enum class Stage { read, quantize, write };
inline constexpr size_t kStageCount = 3;
inline constexpr std::array<std::string_view, kStageCount> kStageNames = {"read", "quantize",
                                                                          "write"};

struct StageTimes {
    std::array<uint64_t, kStageCount> ns{};

    double seconds(Stage s) const { return static_cast<double>(ns[static_cast<size_t>(s)]) * 1e-9; }
    void merge(const StageTimes& o) {
        for (size_t i = 0; i < kStageCount; ++i)
            ns[i] += o.ns[i];
    }
};

// Adds the time from construction to destruction to one stage of `times` (if not null).
class ScopedStage {
  public:
    ScopedStage(StageTimes* times, Stage s)
        : times_(times),
          stage_(s),
          t0_(times ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{}) {}
    ~ScopedStage() {
        if (!times_) return;
        const auto d = std::chrono::steady_clock::now() - t0_;
        times_->ns[static_cast<size_t>(stage_)] +=
            static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
    }
    ScopedStage(const ScopedStage&) = delete;
    ScopedStage& operator=(const ScopedStage&) = delete;

  private:
    StageTimes* times_;
    Stage stage_;
    std::chrono::steady_clock::time_point t0_;
};

}  // namespace sutra::pipeline
