#pragma once
// Each subcommand registers its flags and returns the exit code through `run`.
#include <CLI/CLI.hpp>
#include <functional>

#include "cli_common.hpp"

namespace sutra::app {

using Runner = std::function<int()>;

Runner add_quantize(CLI::App& app, const GlobalOptions& g);
Runner add_inspect(CLI::App& app, const GlobalOptions& g);
Runner add_validate(CLI::App& app, const GlobalOptions& g);
Runner add_dequantize(CLI::App& app, const GlobalOptions& g);
Runner add_eval(CLI::App& app, const GlobalOptions& g);
Runner add_calibrate(CLI::App& app, const GlobalOptions& g);
Runner add_bench(CLI::App& app, const GlobalOptions& g);
Runner add_tokenize(CLI::App& app, const GlobalOptions& g);
Runner add_export(CLI::App& app, const GlobalOptions& g);
Runner add_generate(CLI::App& app, const GlobalOptions& g);
Runner add_merge(CLI::App& app, const GlobalOptions& g);

}  // namespace sutra::app
