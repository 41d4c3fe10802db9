// sutra bench MODEL [--methods rtn,awq] [--runs N] [--warmup N] [--json|--markdown] [--kernels]
//             [--tokenizer SOURCE --text FILE]
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.hpp"
#include "quant_flags.hpp"
#include "sutra/pipeline/bench.hpp"
#include "sutra/pipeline/bench_kernels.hpp"
#include "sutra/pipeline/bench_tokenizer.hpp"

namespace sutra::app {
namespace {

using ojson = nlohmann::ordered_json;

struct Args {
    std::string input, methods = "rtn", out_dir, text;
    QuantFlags q;
    int runs = 3, warmup = 1;
    bool json = false, markdown = false, kernels = false;
    uint64_t kernel_elements = 1u << 20;
};

ojson spread_json(const pipeline::Spread& s) {
    return {{"median", s.median}, {"min", s.min}, {"max", s.max}};
}

ojson to_json(const pipeline::BenchReport* r, const std::vector<pipeline::KernelTiming>& ks,
              const pipeline::TokenizerBenchReport* t) {
    ojson j;
    j["schema"] = "sutra.bench/1";
    if (r) {
        j["model"] = r->model;
        j["input_bytes"] = r->input_bytes;
        j["weights"] = r->weights;
        j["threads"] = r->threads;
        j["isa"] = r->isa;
        j["runs"] = r->runs;
        j["warmup"] = r->warmup;
        j["copy_limit"] = {{"seconds", spread_json(r->copy_seconds)},
                           {"input_mb_per_s", r->copy_mb_per_s},
                           {"output_bytes", r->copy_output_bytes}};
        auto& ms = j["methods"] = ojson::array();
        for (const auto& m : r->methods) {
            ojson o;
            o["method"] = m.method;
            o["seconds"] = spread_json(m.seconds);
            ojson st;
            for (size_t i = 0; i < pipeline::kStageCount; ++i)
                st[std::string(pipeline::kStageNames[i])] = spread_json(m.stages[i]);
            o["stage_thread_seconds"] = std::move(st);
            o["input_mb_per_s"] = m.input_mb_per_s;
            o["weights_per_s"] = m.weights_per_s;
            o["peak_rss_bytes"] = m.peak_rss_bytes;
            o["output_bytes"] = m.output_bytes;
            o["ratio_to_copy_limit"] = m.ratio_to_copy;
            ms.push_back(std::move(o));
        }
    }
    if (!ks.empty()) {
        auto& a = j["kernels"] = ojson::array();
        for (const auto& k : ks)
            a.push_back({{"kernel", k.kernel},
                         {"isa", k.isa},
                         {"elements", k.elements},
                         {"ns_per_element_median", k.ns_per_element_median},
                         {"ns_per_element_min", k.ns_per_element_min},
                         {"gb_per_s", k.gb_per_s},
                         {"speedup_vs_scalar", k.speedup_vs_scalar}});
    }
    if (t)
        j["tokenizer"] = {{"tokenizer", t->tokenizer},
                          {"file", t->file},
                          {"text", t->text},
                          {"text_bytes", t->text_bytes},
                          {"threads", 1},
                          {"add_special", true},
                          {"runs", t->runs},
                          {"warmup", t->warmup},
                          {"load_seconds", t->load_seconds},
                          {"seconds", spread_json(t->seconds)},
                          {"mb_per_s", t->mb_per_s},
                          {"tokens_per_s", t->tokens_per_s},
                          {"tokens", t->tokens},
                          {"peak_rss_bytes", t->peak_rss_bytes}};
    return j;
}

std::string seconds_text(const pipeline::Spread& s) {
    return fixed(s.median, 3) + " (" + fixed(s.min, 3) + "–" + fixed(s.max, 3) + ")";
}

// One table, printed as aligned plain text or as Markdown.
class Table {
  public:
    explicit Table(std::vector<std::string> head) { rows_.push_back(std::move(head)); }
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    void print(bool md) const {
        std::vector<size_t> w(rows_[0].size(), 0);
        for (const auto& r : rows_)
            for (size_t i = 0; i < r.size() && i < w.size(); ++i)
                w[i] = std::max(w[i], display_width(r[i]));
        for (size_t k = 0; k < rows_.size(); ++k) {
            std::string line = md ? "|" : "";
            for (size_t i = 0; i < w.size(); ++i) {
                const std::string c = i < rows_[k].size() ? rows_[k][i] : "";
                const std::string pad(w[i] - display_width(c), ' ');
                line += md ? " " + c + pad + " |" : c + pad + (i + 1 < w.size() ? "  " : "");
            }
            while (!md && !line.empty() && line.back() == ' ')
                line.pop_back();
            std::printf("%s\n", line.c_str());
            if (k == 0 && md) {
                std::string rule = "|";
                for (size_t wi : w)
                    rule += std::string(wi + 2, '-') + "|";
                std::printf("%s\n", rule.c_str());
            }
        }
    }

  private:
    // Characters, not bytes (the en dash and × are multi-byte in UTF-8).
    static size_t display_width(const std::string& s) {
        size_t n = 0;
        for (unsigned char c : s)
            n += (c & 0xc0) != 0x80;
        return n;
    }
    std::vector<std::vector<std::string>> rows_;
};

void print_tables(const pipeline::BenchReport* r, const std::vector<pipeline::KernelTiming>& ks,
                  const pipeline::TokenizerBenchReport* tk, bool md) {
    if (r) {
        std::printf(
            "%s%s: %s input, %llu weights; %u threads, %s kernels; %d runs after %d "
            "warm-up; seconds as median (min–max)\n\n",
            md ? "**sutra bench** " : "", r->model.c_str(), human_bytes(r->input_bytes).c_str(),
            static_cast<unsigned long long>(r->weights), r->threads, r->isa.c_str(), r->runs,
            r->warmup);
        Table t({"run", "seconds", "input MB/s", "weights/s", "× copy limit", "peak RSS"});
        t.add({"copy limit", seconds_text(r->copy_seconds), fixed(r->copy_mb_per_s, 0), "", "1.00",
               ""});
        for (const auto& m : r->methods)
            t.add({m.method, seconds_text(m.seconds), fixed(m.input_mb_per_s, 0),
                   fixed(m.weights_per_s / 1e6, 1) + " M", fixed(m.ratio_to_copy, 2),
                   human_bytes(m.peak_rss_bytes)});
        t.print(md);
        std::printf("\n");
        std::vector<std::string> head = {"stage (thread-seconds)"};
        for (const auto& m : r->methods)
            head.push_back(m.method);
        Table st(head);
        for (size_t i = 0; i < pipeline::kStageCount; ++i) {
            std::vector<std::string> cells = {std::string(pipeline::kStageNames[i])};
            for (const auto& m : r->methods)
                cells.push_back(seconds_text(m.stages[i]));
            st.add(cells);
        }
        st.print(md);
    }
    if (!ks.empty()) {
        if (r) std::printf("\n");
        Table t({"kernel", "isa", "ns/element", "GB/s", "× scalar"});
        for (const auto& k : ks)
            t.add({k.kernel, k.isa, fixed(k.ns_per_element_median, 3), fixed(k.gb_per_s, 2),
                   fixed(k.speedup_vs_scalar, 2)});
        t.print(md);
    }
    if (tk) {
        if (r || !ks.empty()) std::printf("\n");
        std::printf(
            "%s%s on %s (%s): loaded in %s s; one encode of the whole text, special "
            "tokens added, 1 thread; %d runs after %d warm-up\n\n",
            md ? "**sutra bench --tokenizer** " : "", tk->tokenizer.c_str(), tk->text.c_str(),
            human_bytes(tk->text_bytes).c_str(), fixed(tk->load_seconds, 3).c_str(), tk->runs,
            tk->warmup);
        Table t({"seconds", "MB/s", "tokens/s", "tokens", "peak RSS"});
        t.add({seconds_text(tk->seconds), fixed(tk->mb_per_s, 2),
               fixed(tk->tokens_per_s / 1e6, 2) + " M", std::to_string(tk->tokens),
               human_bytes(tk->peak_rss_bytes)});
        t.print(md);
    }
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

}  // namespace

Runner add_bench(CLI::App& app, const GlobalOptions& g) {
    auto a = std::make_shared<Args>();
    app.add_option("model", a->input,
                   "Checkpoint to quantize: .safetensors file, *.index.json, or model folder");
    app.add_option("--methods", a->methods, "Comma-separated methods: rtn, awq (default rtn)");
    app.add_option("--runs", a->runs, "Measured runs (default 3)");
    app.add_option("--warmup", a->warmup,
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
    add_quant_flags(app, a->q);
    auto* json = app.add_flag("--json", a->json, "Print the result as JSON on stdout");
    app.add_flag("--markdown", a->markdown, "Print the result as Markdown tables")->excludes(json);

    return [a, &g]() -> int {
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
        std::optional<pipeline::BenchReport> rep;
        if (!a->input.empty()) {
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
        if (a->json)
            std::printf("%s\n", to_json(rp, ks, tp)
                                    .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                                    .c_str());
        else
            print_tables(rp, ks, tp, a->markdown);
        return kExitOk;
    };
}

}  // namespace sutra::app
