#pragma once
// What `sutra bench` prints: its tables (aligned plain text or Markdown) and its JSON, for the
// speed bench (`sutra.bench/1`) and the accuracy bench with --eval-text
// (`sutra.bench.accuracy/1`); kernel and tokenizer timings join either. The generation bench
// (--generate, `sutra.bench.generate/1`) stands alone.
#include <nlohmann/json.hpp>
#include <vector>

#include "sutra/pipeline/bench.hpp"
#include "sutra/pipeline/bench_accuracy.hpp"
#include "sutra/pipeline/bench_generate.hpp"
#include "sutra/pipeline/bench_kernels.hpp"
#include "sutra/pipeline/bench_tokenizer.hpp"

namespace sutra::app {

// Any pointer may be null (that part was not run).
nlohmann::ordered_json bench_json(const pipeline::BenchReport* r,
                                  const std::vector<pipeline::KernelTiming>& ks,
                                  const pipeline::TokenizerBenchReport* t);
nlohmann::ordered_json accuracy_json(const pipeline::AccuracyBenchReport& r,
                                     const std::vector<pipeline::KernelTiming>& ks,
                                     const pipeline::TokenizerBenchReport* t);

void print_bench_tables(const pipeline::BenchReport* r,
                        const std::vector<pipeline::KernelTiming>& ks,
                        const pipeline::TokenizerBenchReport* tk, bool md);
void print_accuracy_tables(const pipeline::AccuracyBenchReport& r, bool md);

nlohmann::ordered_json generate_bench_json(const pipeline::GenerateBenchReport& r);
void print_generate_bench_tables(const pipeline::GenerateBenchReport& r, bool md);

}  // namespace sutra::app
