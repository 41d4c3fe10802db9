// sutra: the command-line front end. Parses flags, calls the library, renders the result.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "sutra/base/suggest.hpp"
#include "sutra/io/output_file.hpp"
#include "sutra/model/blas.hpp"
#include "sutra/plan/method.hpp"

namespace {

// The first argument that is neither a global flag nor the value of one: the command meant.
std::optional<std::string> first_word(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--isa" || a == "--threads") {
            ++i;
            continue;
        }
        if (a.empty() || a[0] == '-') continue;
        return a;
    }
    return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace sutra::app;
    sutra::model::select_blas_kernels(argv);
    sutra::io::install_signal_cleanup();

    CLI::App app{
        "sutra: activation-aware 4/8-bit quantization of LLM checkpoints (safetensors -> .qbin)"};
    app.require_subcommand(1);
    app.fallthrough();  // global flags (-v, -q) may come after the subcommand too
    GlobalOptions g;
    app.add_flag("-v,--verbose", g.verbose, "More log output on stderr (repeat for debug)");
    app.add_flag("-q,--quiet", g.quiet, "Only errors on stderr; no progress bar");
    app.add_option("--isa", g.isa,
                   "Kernel instruction set: auto (default), or one `sutra --version` lists; "
                   "also SUTRA_ISA");
    app.add_option("--threads", g.threads, "Worker threads (default: all cores)")
        ->check(CLI::Range(1u, 1024u));
    app.add_flag("--no-mmap", g.no_mmap,
                 "Read a .qbin's packed weights into memory instead of mapping the file "
                 "(for a file others may truncate while sutra runs it)");
    app.set_version_flag("--version", [&g] {
        if (apply_isa(g) != kExitOk) std::exit(kExitError);
        return version_text();
    });

    std::map<CLI::App*, Runner> runners;
    auto add = [&](const char* name, const char* help, auto fn) {
        CLI::App* sub = app.add_subcommand(name, help);
        runners[sub] = fn(*sub, g);
    };
    add("quantize", "Quantize a safetensors checkpoint into a .qbin", add_quantize);
    add("inspect", "Show what a .safetensors or .qbin file holds", add_inspect);
    add("validate", "Check a .qbin's structure and checksums, and its error against the original",
        add_validate);
    add("dequantize", "Turn a .qbin back into a plain safetensors checkpoint", add_dequantize);
    add("eval", "Perplexity of a checkpoint or .qbin on a text, with the built-in forward pass",
        add_eval);
    add("generate", "Generate text from a checkpoint or .qbin (Llama, RWKV, Mamba)", add_generate);
    add("calibrate",
        "Activation statistics of a model on a calibration text, for `quantize --calib`",
        add_calibrate);
    add("bench",
        "Time quantization against the copy limit; --eval-text: methods on accuracy; --generate: "
        "original vs quantized tokens/s; --kernels",
        add_bench);
    add("tokenize", "Token ids of a text with a model's tokenizer, or the text of token ids",
        add_tokenize);
    add("export", "Write a .qbin as an AutoAWQ folder (vLLM, transformers) or a GGUF file",
        add_export);
    add("merge", "Put the part files of `quantize --part K/N` together into the .qbin", add_merge);

    // Named choices get a "did you mean" for a typo (the flags are defined with their command).
    auto check_choice = [&](const char* command, const char* flag, CLI::Validator v) {
        for (auto& [sub, run] : runners)
            if (sub->get_name() == command)
                if (CLI::Option* o = sub->get_option_no_throw(flag)) o->check(std::move(v));
    };
    std::vector<std::string> bench_methods;
    for (const auto& m : sutra::plan::method_names())
        if (m != "auto") bench_methods.push_back(m);
    check_choice("quantize", "--method", choice_check("method", sutra::plan::method_names()));
    check_choice("bench", "--methods", choice_check("method", bench_methods, true));
    check_choice("dequantize", "--dtype",
                 choice_check("dtype", {"f32", "f16", "bf16", "original"}));

    auto logger = spdlog::stderr_color_mt("sutra");
    logger->set_pattern("sutra: %^%l%$: %v");
    spdlog::set_default_logger(logger);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        // A mistyped command: CLI11 would only say that a subcommand is required.
        if (app.get_subcommands().empty()) {
            if (auto word = first_word(argc, argv)) {
                std::vector<std::string> names;
                for (const auto* sub : app.get_subcommands({}))
                    names.push_back(sub->get_name());
                if (std::find(names.begin(), names.end(), *word) == names.end()) {
                    const std::string hint = sutra::did_you_mean(*word, names);
                    spdlog::error("unknown command \"{}\"{} (commands: {})", one_line(*word),
                                  hint.empty() ? "" : "; " + hint, sutra::join_names(names));
                    return kExitError;
                }
            }
        }
        // One line, like every other error; the usage is one --help away (unless the message
        // lists the choices itself).
        const std::string what = one_line(e.what());
        spdlog::error("{}{}", what,
                      what.find("(choices: ") == std::string::npos ? " (see sutra --help)" : "");
        return kExitError;
    }
    spdlog::set_level(
        g.quiet ? spdlog::level::err
                : (g.verbose >= 2 ? spdlog::level::debug
                                  : (g.verbose == 1 ? spdlog::level::info : spdlog::level::warn)));
    if (const int rc = apply_isa(g); rc != kExitOk) return rc;
    apply_product_options(g, "");
    for (auto& [sub, run] : runners) {
        if (sub->parsed()) {
            try {
                return run();
            } catch (const std::exception& e) {
                spdlog::error("internal error: {} (please report this)", one_line(e.what()));
                return kExitError;
            }
        }
    }
    return kExitError;
}
