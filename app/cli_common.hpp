#pragma once
// Shared pieces of the thin CLI: global flags, error reporting and exit codes, number
// formatting, and the terminal progress bar.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
    std::string isa;       // --isa (or SUTRA_ISA): kernel instruction set, "" = auto
    unsigned threads = 0;  // --threads: worker threads, 0 = all cores
    bool no_mmap = false;  // --no-mmap: read a .qbin's packed weights instead of mapping it
};

// Applies SUTRA_ISA and then --isa to the kernel dispatch; an unknown or unsupported name is
// an error. Returns the exit code to use on failure, or kExitOk.
int apply_isa(const GlobalOptions& g);

// `--activations q8|f32` for the commands that run a model (eval, validate, generate, bench):
// how products with a .qbin's packed weights treat their activations (model/matrix.hpp).
void add_activations_flag(CLI::App& app, std::string& value);
// Sets the packed-product options of the process from --threads and `activations` (a checked
// --activations value; "" keeps q8).
void apply_product_options(const GlobalOptions& g, const std::string& activations);

// "sutra 0.1.0" plus the kernel instruction set in use and those available.
std::string version_text();

// A byte count: a plain number, or with a suffix K, M, G, T (binary units, KiB..TiB).
Result<uint64_t> parse_size(std::string_view text, std::string_view flag);

// Control characters (newlines, escapes from hostile names) shown as \n, \r, \xNN.
std::string one_line(std::string_view text);

// A CLI11 check that the value is one of `choices` (`list`: each of a comma-separated list);
// otherwise the error names the value, a "did you mean" for a typo, and the choices:
// `unknown method "awk"; did you mean "awq"? (choices: auto, rtn, awq)`.
CLI::Validator choice_check(std::string what, std::vector<std::string> choices, bool list = false);

// Logs the error as one line on stderr and returns kExitError.
int fail(const Error& e);

std::string human_bytes(uint64_t n);  // "1.04 MB" (decimal units, as disk sizes are sold)
std::string fixed(double v, int decimals);
std::string shape_text(const std::vector<uint64_t>& shape);  // "[2048, 64]"

// A progress bar on stderr, drawn only when stderr is a terminal and not --quiet; nullptr
// otherwise (the library then reports nothing).
std::unique_ptr<pipeline::ProgressObserver> make_progress(const GlobalOptions& g);

}  // namespace sutra::app
