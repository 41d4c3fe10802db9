#pragma once
// `sutra bench --tokenizer SOURCE --text FILE`: the speed of one tokenizer's encode on one
// text. The tokenizer is loaded once (its load time reported on its own), then the whole text
// is encoded in one call (special tokens added, on the calling thread only) `warmup` times
// unmeasured and `runs` times measured. scripts/bench_tokenizer.sh runs it beside the
// reference implementation on the same text.
#include <cstdint>
#include <filesystem>
#include <string>

#include "sutra/base/error.hpp"
#include "sutra/pipeline/bench.hpp"

namespace sutra::pipeline {

// The text is read whole: at most this many bytes (a benchmark text, not a corpus).
inline constexpr uint64_t kMaxBenchTextBytes = uint64_t{1} << 30;

struct TokenizerBenchOptions {
    // A tokenizer file (tokenizer.json, *.model, tok512.bin) or a folder holding one, as
    // --tokenizer takes elsewhere (tokenize/discovery.hpp).
    std::filesystem::path tokenizer;
    std::filesystem::path text;  // UTF-8 text, encoded whole in each run
    int runs = 3;
    int warmup = 1;
};

struct TokenizerBenchReport {
    std::string tokenizer;  // the tokenizer's description
    std::string file;       // the tokenizer file used
    std::string text;       // the text file
    uint64_t text_bytes = 0;
    int runs = 0, warmup = 0;
    double load_seconds = 0;      // reading and parsing the tokenizer, once
    Spread seconds;               // one encode of the whole text (wall clock)
    double mb_per_s = 0;          // text bytes / median seconds (1e6 B)
    double tokens_per_s = 0;      // tokens / median seconds
    uint64_t tokens = 0;          // ids of one encode (the same in every run)
    uint64_t peak_rss_bytes = 0;  // of this process, after the runs
};

// invalid_argument for runs < 1 or warmup < 0; the tokenizer's and the text's own errors
// (not_found, bad_format, ...); too_large past kMaxBenchTextBytes; internal if two runs give
// different token counts.
Result<TokenizerBenchReport> run_tokenizer_bench(const TokenizerBenchOptions& opt);

}  // namespace sutra::pipeline
