#pragma once
// Shared pieces of the thin CLI: global flags, error reporting and exit codes, number
// formatting, and the terminal progress bar.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sutra/base/error.hpp"
#include "sutra/pipeline/progress.hpp"

namespace sutra::app {

// Exit codes: 0 success, 1 a check failed, 2 usage, input or I/O error.
inline constexpr int kExitOk = 0;
inline constexpr int kExitCheckFailed = 1;
inline constexpr int kExitError = 2;

struct GlobalOptions {
    int verbose = 0;
    bool quiet = false;
};

// Control characters (newlines, escapes from hostile names) shown as \n, \r, \xNN.
std::string one_line(std::string_view text);

// Logs the error as one line on stderr and returns kExitError.
int fail(const Error& e);

std::string human_bytes(uint64_t n);  // "1.04 MB" (decimal units, as disk sizes are sold)
std::string fixed(double v, int decimals);

// A progress bar on stderr, drawn only when stderr is a terminal and not --quiet; nullptr
// otherwise (the library then reports nothing).
std::unique_ptr<pipeline::ProgressObserver> make_progress(const GlobalOptions& g);

}  // namespace sutra::app
