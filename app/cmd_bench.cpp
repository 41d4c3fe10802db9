// sutra bench MODEL [--methods rtn,awq] [--runs N] [--warmup N] [--json|--markdown] [--kernels]
//             [--tokenizer SOURCE --text FILE]
// sutra bench MODEL --methods rtn,awq --calib-text CALIB --eval-text EVAL [--bits 3,4]
//             [--eval-tokens N] [--plot FILE.svg]      (accuracy: one quantization per point)
// sutra bench MODEL --generate [--against OUT.qbin] [--prompt-tokens N] [--gen-tokens M]
//             [--prompt TEXT | --tokens-file IDS]   (generation speed, original vs quantized)
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench_render.hpp"
#include "commands.hpp"
#include "quant_flags.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/io/output_file.hpp"
#include "sutra/pipeline/bench_plot.hpp"
#include "sutra/quant/quant_type.hpp"

namespace sutra::app {
namespace {

struct BenchArgs {
    std::string input, methods = "rtn", out_dir, text, bits, eval_text, plot;
    QuantFlags q;
    int runs = 3, warmup = 1;
    int64_t eval_tokens = 0, eval_seq_len = 256;
    bool json = false, markdown = false, kernels = false;
    uint64_t kernel_elements = 1u << 20;
    CLI::Option *runs_opt = nullptr, *warmup_opt = nullptr;
    // --generate
    bool generate = false;
    std::string against, prompt, tokens_file;
    std::string activations;  // --activations: of the quantized model's products
    int64_t prompt_tokens = pipeline::kDefaultBenchPromptTokens;
    int64_t gen_tokens = pipeline::kDefaultBenchGenTokens;
    // Flags that only --generate takes, and those that describe a quantization (the quant
    // flags, --methods, --bits; --tokenizer aside: it also names the prompt's tokenizer).
    CLI::Option *prompt_opt = nullptr, *prompt_tokens_opt = nullptr;
    std::vector<const CLI::Option*> generate_only, quantization;
    std::vector<const CLI::Option*> not_generate;  // what --generate refuses
};

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

// "4" or "3,4": each a width quant_type_for_bits knows (3, 4, 8), none twice.
Result<std::vector<int>> parse_bits(const std::string& s) {
    std::vector<int> out;
    for (const auto& item : split_commas(s)) {
        int v = 0;
        try {
            size_t used = 0;
            v = std::stoi(item, &used);
            if (used != item.size()) v = 0;
        } catch (const std::exception&) {
            v = 0;
        }
        if (!quant::quant_type_for_bits(v))
            return make_error(Errc::invalid_argument,
                              "--bits must be 3, 4 or 8, or with --eval-text a list such as 3,4 "
                              "(got \"" +
                                  one_line(item) + "\")");
        if (std::find(out.begin(), out.end(), v) != out.end())
            return make_error(Errc::invalid_argument,
                              "--bits: " + std::to_string(v) + " is given twice");
        out.push_back(v);
    }
    if (out.empty()) return make_error(Errc::invalid_argument, "--bits needs a value: 3, 4 or 8");
    return out;
}

// The first of `opts` given on the command line, or nullptr.
const CLI::Option* first_given(const std::vector<const CLI::Option*>& opts) {
    for (const auto* o : opts)
        if (o->count() > 0) return o;
    return nullptr;
}

// `sutra bench MODEL --generate`: the original and its quantized model, generating.
int run_generate_bench(const BenchArgs& a, const GlobalOptions& g) {
    if (const auto* o = first_given(a.not_generate))
        return fail(make_error(Errc::invalid_argument,
                               o->get_name() + " does not go with --generate (which times "
                                               "generation of the original and quantized model; "
                                               "drop one of the two)"));
    if (a.input.empty())
        return fail(make_error(Errc::invalid_argument,
                               "--generate needs a MODEL: the original checkpoint (file, index "
                               "or folder)"));
    pipeline::GenerateBenchOptions opt;
    opt.quantize.input = a.input;
    if (!a.against.empty()) {
        opt.against = a.against;
        if (const auto* o = first_given(a.quantization))
            return fail(make_error(Errc::invalid_argument,
                                   o->get_name() + " says how to quantize MODEL, but --against " +
                                       a.against + " is quantized already (drop " + o->get_name() +
                                       ", or drop --against to "
                                       "quantize MODEL in this run)"));
    }
    const std::vector<std::string> methods = split_commas(a.methods);
    if (methods.size() != 1)
        return fail(make_error(Errc::invalid_argument,
                               "--generate compares the original with one quantization: give "
                               "one method in --methods (got \"" +
                                   one_line(a.methods) + "\")"));
    opt.method = methods[0];
    QuantFlags q = a.q;
    if (!a.bits.empty()) {
        auto b = parse_bits(a.bits);
        if (!b) return fail(b.error());
        if (b->size() != 1)
            return fail(make_error(Errc::invalid_argument,
                                   "--generate takes one --bits width (a list is for "
                                   "--eval-text)"));
        q.bits = b->front();
    }
    if (auto st = apply_quant_flags(q, g, opt.quantize); !st.ok()) return fail(st.error());
    opt.out_dir = a.out_dir;
    if (a.prompt_opt->count()) opt.prompt = a.prompt;
    if (!a.tokens_file.empty()) opt.tokens_file = a.tokens_file;
    if (a.prompt_tokens_opt->count()) opt.prompt_tokens = a.prompt_tokens;
    opt.gen_tokens = a.gen_tokens;
    opt.runs = a.runs;
    opt.warmup = a.warmup;
    auto progress = make_progress(g);
    auto r = pipeline::run_generate_bench(opt, progress.get());
    if (!r) return fail(r.error());
    if (a.json)
        std::printf("%s\n", generate_bench_json(*r)
                                .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                                .c_str());
    else
        print_generate_bench_tables(*r, a.markdown);
    return kExitOk;
}

}  // namespace

Runner add_bench(CLI::App& app, const GlobalOptions& g) {
    auto a = std::make_shared<BenchArgs>();
    app.add_option("model", a->input,
                   "Checkpoint to quantize: .safetensors file, *.index.json, or model folder");
    app.add_option("--methods", a->methods,
                   "Comma-separated methods, as quantize --method names them (default rtn)");
    a->runs_opt = app.add_option("--runs", a->runs, "Measured runs (default 3)");
    a->warmup_opt = app.add_option("--warmup", a->warmup,
                                   "Unmeasured runs first, to fill the page cache (default 1)");
    app.add_option("--out-dir", a->out_dir,
                   "Folder for the outputs (each removed after its run; default: temp dir)");
    app.add_flag("--kernels", a->kernels,
                 "Micro-benchmark every kernel on every instruction set against scalar");
    app.add_option("--kernel-elements", a->kernel_elements,
                   "Elements per kernel call in --kernels (default 1048576)");
    // --tokenizer (a quant flag, also the calibration tokenizer) names the tokenizer timed.
    app.add_option("--text", a->text,
                   "Time --tokenizer's encode of this text (whole, once per run; at most 1 GiB)");
    const auto before = app.get_options();
    add_quant_flags(app, a->q);
    // bench takes a list of bit widths (one accuracy point each): its own --bits.
    app.remove_option(app.get_option("--bits"));
    app.add_option("--bits", a->bits,
                   "Bits for every quantized tensor: 3, 4 or 8; with --eval-text a list (3,4): "
                   "one point per method and width");
    for (const auto* o : app.get_options())
        if (std::find(before.begin(), before.end(), o) == before.end() &&
            o->get_name() != "--tokenizer")
            a->quantization.push_back(o);
    a->quantization.push_back(app.get_option("--methods"));
    app.add_option("--eval-text", a->eval_text,
                   "Compare the methods on accuracy: quantize each once and evaluate it against "
                   "the full-precision model on this text (not the calibration text)");
    app.add_option("--eval-tokens", a->eval_tokens,
                   "With --eval-text: score only the first N text tokens (default: all)");
    app.add_option("--eval-seq-len", a->eval_seq_len,
                   "With --eval-text: evaluation window length, BOS included (default 256)");
    app.add_option("--plot", a->plot,
                   "With --eval-text: write an SVG chart of output size against mean KL, one "
                   "line per method (replaced if it exists)");
    app.add_flag("--generate", a->generate,
                 "Time generation (prompt processing and decode tokens/s, peak memory) of MODEL "
                 "and its quantized model in one run (MODEL quantized here with the flags "
                 "above, or --against OUT.qbin)");
    a->prompt_tokens_opt =
        app.add_option("--prompt-tokens", a->prompt_tokens,
                       "With --generate: prompt length in tokens (default 128; the text of "
                       "--prompt or a built-in text repeated as needed)");
    a->prompt_opt =
        app.add_option("--prompt", a->prompt,
                       "With --generate: prompt text, through the model's tokenizer (default: a "
                       "built-in English text; random ids without a tokenizer)");
    a->generate_only = {
        a->prompt_tokens_opt,
        a->prompt_opt,
        app.add_option("--gen-tokens", a->gen_tokens,
                       "With --generate: tokens generated greedily, one decode step each, no "
                       "stop at EOS (default 64)"),
        app.add_option("--tokens-file", a->tokens_file,
                       "With --generate: the prompt as whitespace-separated token ids, all of "
                       "them"),
        app.add_option("--against", a->against,
                       "With --generate: the .qbin to compare, made from MODEL (default: "
                       "quantize MODEL now into a temporary file)"),
    };
    a->not_generate = {app.get_option("--kernels"),     app.get_option("--kernel-elements"),
                       app.get_option("--text"),        app.get_option("--eval-text"),
                       app.get_option("--eval-tokens"), app.get_option("--eval-seq-len"),
                       app.get_option("--plot")};
    add_activations_flag(app, a->activations);
    auto* json = app.add_flag("--json", a->json, "Print the result as JSON on stdout");
    app.add_flag("--markdown", a->markdown, "Print the result as Markdown tables")->excludes(json);

    return [a, &g]() -> int {
        apply_product_options(g, a->activations);
        if (a->generate) return run_generate_bench(*a, g);
        if (const auto* o = first_given(a->generate_only))
            return fail(make_error(Errc::invalid_argument,
                                   o->get_name() + " needs --generate (the generation bench)"));
        const std::string& tokenizer = a->q.tokenizer;
        if (a->input.empty() && !a->kernels && a->text.empty())
            return fail(make_error(Errc::invalid_argument,
                                   "give a MODEL to benchmark, --kernels, or --tokenizer SOURCE "
                                   "--text FILE (or several)"));
        if (!a->text.empty() && tokenizer.empty())
            return fail(make_error(Errc::invalid_argument,
                                   "--text FILE needs --tokenizer SOURCE: the tokenizer file (or "
                                   "a folder holding one) whose encode is timed"));
        if (a->input.empty() && a->text.empty() && !tokenizer.empty())
            return fail(make_error(Errc::invalid_argument,
                                   "--tokenizer SOURCE needs --text FILE: the text to encode"));
        std::vector<int> bits;
        if (!a->bits.empty()) {
            auto b = parse_bits(a->bits);
            if (!b) return fail(b.error());
            bits = std::move(*b);
        }
        const bool accuracy = !a->eval_text.empty();
        if (!accuracy) {
            const char* needs_eval = !a->plot.empty()         ? "--plot"
                                     : a->eval_tokens != 0    ? "--eval-tokens"
                                     : a->eval_seq_len != 256 ? "--eval-seq-len"
                                     : bits.size() > 1        ? "a list of --bits"
                                                              : nullptr;
            if (needs_eval)
                return fail(make_error(
                    Errc::invalid_argument,
                    std::string(needs_eval) + " needs --eval-text FILE (the accuracy comparison)"));
            if (bits.size() == 1) a->q.bits = bits[0];
        } else {
            if (a->input.empty())
                return fail(make_error(Errc::invalid_argument,
                                       "--eval-text needs a MODEL to quantize and evaluate"));
            if (a->runs_opt->count() || a->warmup_opt->count())
                return fail(make_error(
                    Errc::invalid_argument,
                    "--runs and --warmup time quantization alone; with --eval-text every method "
                    "is quantized once (drop --eval-text to time repeated runs)"));
        }
        std::optional<pipeline::AccuracyBenchReport> acc;
        if (accuracy) {
            pipeline::AccuracyBenchOptions opt;
            opt.quantize.input = a->input;
            if (auto st = apply_quant_flags(a->q, g, opt.quantize); !st.ok())
                return fail(st.error());
            opt.methods = split_commas(a->methods);
            opt.bits = bits;
            opt.eval_text = a->eval_text;
            opt.eval_tokens = a->eval_tokens;
            opt.eval_seq_len = a->eval_seq_len;
            opt.out_dir = a->out_dir;
            // The plot replaces an older plot, never an input; refused now rather than after
            // the run.
            std::vector<std::filesystem::path> inputs = {a->input, a->eval_text};
            inputs.insert(inputs.end(), opt.quantize.calib_text.begin(),
                          opt.quantize.calib_text.end());
            if (opt.quantize.calib) inputs.push_back(*opt.quantize.calib);
            if (auto ck = io::Checkpoint::open(a->input); ck.ok())
                for (const auto& f : ck->input_paths())
                    inputs.push_back(f);
            if (!a->plot.empty()) {
                if (auto st = io::check_output_path(a->plot, true, inputs); !st.ok())
                    return fail(st.error());
            }
            auto progress = make_progress(g);
            auto r = pipeline::run_accuracy_bench(opt, progress.get());
            if (!r) return fail(r.error());
            acc = std::move(*r);
            for (const auto& p : acc->points)
                for (const auto& w : p.warnings)
                    spdlog::warn("{}: {}", p.method, one_line(w));
            if (!a->plot.empty()) {
                const std::string svg = pipeline::render_svg(pipeline::frontier_plot(*acc));
                if (auto st = pipeline::write_svg(svg, a->plot, inputs); !st.ok())
                    return fail(st.error());
            }
        }
        std::optional<pipeline::BenchReport> rep;
        if (!a->input.empty() && !accuracy) {
            pipeline::BenchOptions opt;
            opt.quantize.input = a->input;
            if (auto st = apply_quant_flags(a->q, g, opt.quantize); !st.ok())
                return fail(st.error());
            opt.methods = split_commas(a->methods);
            opt.runs = a->runs;
            opt.warmup = a->warmup;
            opt.out_dir = a->out_dir;
            auto progress = make_progress(g);
            auto r = pipeline::run_bench(opt, progress.get());
            if (!r) return fail(r.error());
            rep = std::move(*r);
        }
        std::vector<pipeline::KernelTiming> ks;
        if (a->kernels) {
            if (a->kernel_elements < 256 || a->kernel_elements > (1u << 28))
                return fail(make_error(Errc::invalid_argument,
                                       "--kernel-elements must be between 256 and 268435456"));
            ks = pipeline::bench_kernels(a->kernel_elements, std::max(a->runs, 1), 0.05);
        }
        std::optional<pipeline::TokenizerBenchReport> tk;
        if (!a->text.empty()) {
            pipeline::TokenizerBenchOptions to;
            to.tokenizer = tokenizer;
            to.text = a->text;
            to.runs = a->runs;
            to.warmup = a->warmup;
            auto r = pipeline::run_tokenizer_bench(to);
            if (!r) return fail(r.error());
            tk = std::move(*r);
        }
        const pipeline::BenchReport* rp = rep ? &*rep : nullptr;
        const pipeline::TokenizerBenchReport* tp = tk ? &*tk : nullptr;
        if (a->json) {
            const nlohmann::ordered_json j =
                acc ? accuracy_json(*acc, ks, tp) : bench_json(rp, ks, tp);
            std::printf("%s\n",
                        j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        } else if (acc) {
            print_accuracy_tables(*acc, a->markdown);
            if (!ks.empty() || tp) {
                std::printf("\n");
                print_bench_tables(nullptr, ks, tp, a->markdown);
            }
        } else {
            print_bench_tables(rp, ks, tp, a->markdown);
        }
        return kExitOk;
    };
}

}  // namespace sutra::app
