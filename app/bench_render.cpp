#include "bench_render.hpp"

#include <cmath>
#include <cstdio>

#include "cli_common.hpp"

namespace sutra::app {
namespace {

using ojson = nlohmann::ordered_json;

ojson spread_json(const pipeline::Spread& s) {
    return {{"median", s.median}, {"min", s.min}, {"max", s.max}};
}

// Kernel and tokenizer timings, as the speed bench has printed them since sutra.bench/1.
void add_extras(ojson& j, const std::vector<pipeline::KernelTiming>& ks,
                const pipeline::TokenizerBenchReport* t);

ojson speed_json(const pipeline::BenchReport* r, const std::vector<pipeline::KernelTiming>& ks,
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
    add_extras(j, ks, t);
    return j;
}

void add_extras(ojson& j, const std::vector<pipeline::KernelTiming>& ks,
                const pipeline::TokenizerBenchReport* t) {
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

ojson number_or_null(double v) {
    return std::isfinite(v) ? ojson(v) : ojson();
}

std::string percent(double v, int decimals) {
    return fixed(100.0 * v, decimals) + "%";
}

std::string signed_fixed(double v, int decimals) {
    return (v >= 0 ? "+" : "") + fixed(v, decimals);
}

}  // namespace

ojson bench_json(const pipeline::BenchReport* r, const std::vector<pipeline::KernelTiming>& ks,
                 const pipeline::TokenizerBenchReport* t) {
    return speed_json(r, ks, t);
}

ojson accuracy_json(const pipeline::AccuracyBenchReport& r,
                    const std::vector<pipeline::KernelTiming>& ks,
                    const pipeline::TokenizerBenchReport* t) {
    ojson j;
    j["schema"] = "sutra.bench.accuracy/1";
    j["model"] = r.model;
    j["input_bytes"] = r.input_bytes;
    j["weights"] = r.weights;
    j["threads"] = r.threads;
    j["isa"] = r.isa;
    j["preset"] = r.preset;
    j["config_file"] = r.config_file.empty() ? ojson() : ojson(r.config_file);
    j["group_size"] = r.group_size.empty() ? ojson() : ojson(r.group_size);
    j["isolation"] = "fork";  // every step in a child process of its own
    j["eval"] = {{"text", r.eval_text},
                 {"tokenizer", r.tokenizer},
                 {"seq_len", r.eval_seq_len},
                 {"tokens", r.eval_tokens},
                 {"windows", r.eval_windows},
                 {"reference_perplexity", number_or_null(r.reference_perplexity)}};
    if (r.calib_kind.empty()) {
        j["calibration"] = nullptr;
    } else {
        j["calibration"] = {
            {"kind", r.calib_kind},       {"sources", r.calib_sources},
            {"windows", r.calib_windows}, {"seq_len", r.calib_seq_len},
            {"seconds", r.calib_seconds}, {"peak_rss_bytes", r.calib_peak_rss_bytes}};
    }
    auto& ps = j["points"] = ojson::array();
    for (const auto& p : r.points) {
        ojson o;
        o["method"] = p.method;
        o["method_used"] = p.method_used;
        o["bits"] = p.bits ? ojson(p.bits) : ojson();
        o["output_bytes"] = p.output_bytes;
        o["compression_ratio"] = number_or_null(p.compression_ratio);
        o["bits_per_weight"] = number_or_null(p.bits_per_weight);
        o["quantize_seconds"] = p.quantize_seconds;
        o["peak_rss_bytes"] = p.peak_rss_bytes;
        o["perplexity"] = number_or_null(p.perplexity);
        o["perplexity_increase"] = number_or_null(p.perplexity_increase);
        o["perplexity_increase_relative"] = number_or_null(p.perplexity_increase_relative);
        o["mean_kl"] = number_or_null(p.mean_kl);
        o["top1_agreement"] = number_or_null(p.top1_agreement);
        o["eval_seconds"] = p.eval_seconds;
        o["eval_peak_rss_bytes"] = p.eval_peak_rss_bytes;
        o["warnings"] = p.warnings;
        ps.push_back(std::move(o));
    }
    add_extras(j, ks, t);
    return j;
}

void print_accuracy_tables(const pipeline::AccuracyBenchReport& r, bool md) {
    std::string setting = "preset " + r.preset;
    if (!r.config_file.empty()) setting += " + config " + r.config_file;
    if (!r.group_size.empty()) setting += ", group size " + r.group_size;
    std::printf("%s%s: %s input, %llu weights; %u threads, %s kernels; %s\n",
                md ? "**sutra bench** " : "", r.model.c_str(), human_bytes(r.input_bytes).c_str(),
                static_cast<unsigned long long>(r.weights), r.threads, r.isa.c_str(),
                setting.c_str());
    std::printf(
        "%sevaluated on %s: %lld tokens in %lld windows of %lld; full-precision "
        "perplexity %s\n",
        md ? "\n" : "", r.eval_text.c_str(), static_cast<long long>(r.eval_tokens),
        static_cast<long long>(r.eval_windows), static_cast<long long>(r.eval_seq_len),
        fixed(r.reference_perplexity, 4).c_str());
    if (r.calib_kind == "text")
        std::printf("%scalibrated once: %lld windows of %lld tokens, %s s, peak RSS %s\n",
                    md ? "\n" : "", static_cast<long long>(r.calib_windows),
                    static_cast<long long>(r.calib_seq_len), fixed(r.calib_seconds, 2).c_str(),
                    human_bytes(r.calib_peak_rss_bytes).c_str());
    else if (r.calib_kind == "file")
        std::printf("%scalibration from %s\n", md ? "\n" : "",
                    r.calib_sources.empty() ? "" : r.calib_sources.front().c_str());
    std::printf("\n");
    Table t({"method", "bits", "size", "ratio", "bits/weight", "perplexity", "increase", "mean KL",
             "top-1", "quantize s", "peak RSS", "eval s"});
    for (const auto& p : r.points) {
        const std::string m =
            p.method == p.method_used ? p.method : p.method + " (" + p.method_used + ")";
        t.add({m, p.bits ? std::to_string(p.bits) : "config", human_bytes(p.output_bytes),
               fixed(p.compression_ratio, 2) + "x", fixed(p.bits_per_weight, 2),
               fixed(p.perplexity, 4),
               signed_fixed(p.perplexity_increase, 4) + " (" +
                   signed_fixed(100.0 * p.perplexity_increase_relative, 1) + "%)",
               fixed(p.mean_kl, 4), percent(p.top1_agreement, 1), fixed(p.quantize_seconds, 2),
               human_bytes(p.peak_rss_bytes), fixed(p.eval_seconds, 2)});
    }
    t.print(md);
}

void print_bench_tables(const pipeline::BenchReport* r,
                        const std::vector<pipeline::KernelTiming>& ks,
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

namespace {

ojson generate_model_json(const pipeline::GenerateModelBench& m) {
    ojson o;
    o["role"] = m.role;
    o["file"] = m.file;
    o["file_bytes"] = m.file_bytes;
    o["prompt_tokens_per_s"] = spread_json(m.prompt_tokens_per_s);
    o["gen_tokens_per_s"] = spread_json(m.gen_tokens_per_s);
    o["prompt_seconds"] = spread_json(m.prompt_seconds);
    o["gen_seconds"] = spread_json(m.gen_seconds);
    o["step_ms"] = spread_json(m.step_ms);
    o["load_seconds"] = spread_json(m.load_seconds);
    o["peak_rss_bytes"] = m.peak_rss_bytes;
    o["start_rss_bytes"] = m.start_rss_bytes;
    o["prompt_ids"] = m.prompt_ids;
    o["generated_ids"] = m.generated_ids;
    o["ids_stable"] = m.ids_stable;
    return o;
}

// A rate: no decimals from 100 up.
std::string rate_text(double v) {
    return fixed(v, v >= 100 ? 0 : 1);
}

std::string rate_spread(const pipeline::Spread& s) {
    return rate_text(s.median) + " (" + rate_text(s.min) + "–" + rate_text(s.max) + ")";
}

}  // namespace

ojson generate_bench_json(const pipeline::GenerateBenchReport& r) {
    ojson j;
    j["schema"] = "sutra.bench.generate/1";
    j["model"] = r.model;
    j["family"] = r.family;
    j["tokenizer"] = r.tokenizer.empty() ? ojson() : ojson(r.tokenizer);
    j["threads"] = r.threads;
    j["isa"] = r.isa;
    j["blas"] = r.blas;
    j["runs"] = r.runs;
    j["warmup"] = r.warmup;
    j["isolation"] = "fork";  // every run in a child process of its own
    j["sampling"] = "greedy";
    j["stop_at_eos"] = false;
    j["prompt"] = {{"source", r.prompt_source}, {"tokens", r.prompt_tokens}, {"ids", r.prompt_ids}};
    j["gen_tokens"] = r.gen_tokens;
    j["quantized_by"] = r.quantized_by;
    j["method"] = r.method;
    j["quantize_seconds"] = r.quantized_by == "bench" ? ojson(r.quantize_seconds) : ojson();
    j["models"] = ojson::array({generate_model_json(r.original), generate_model_json(r.quantized)});
    j["speedup"] = {{"prompt", r.prompt_speedup}, {"generation", r.gen_speedup}};
    j["memory_ratio"] = r.memory_ratio;
    j["size_ratio"] = r.size_ratio;
    j["same_prefix_tokens"] = r.same_prefix_tokens;
    return j;
}

void print_generate_bench_tables(const pipeline::GenerateBenchReport& r, bool md) {
    const std::string tokenizer = r.tokenizer.empty() ? "" : ", " + r.tokenizer;
    std::printf(
        "%s%s (%s): %lld prompt tokens (%s%s), %lld generated greedily; %u threads, %s "
        "kernels, OpenBLAS %s; %d runs after %d warm-up, each in a process of its own; "
        "median (min–max)\n",
        md ? "**sutra bench --generate** " : "", r.model.c_str(), r.family.c_str(),
        static_cast<long long>(r.prompt_tokens), r.prompt_source.c_str(), tokenizer.c_str(),
        static_cast<long long>(r.gen_tokens), r.threads, r.isa.c_str(), r.blas.c_str(), r.runs,
        r.warmup);
    if (r.quantized_by == "bench")
        std::printf("%squantized here: %s, %s s (a temporary file, removed)\n", md ? "\n" : "",
                    r.method.c_str(), fixed(r.quantize_seconds, 2).c_str());
    else
        std::printf("%squantized: %s (%s)\n", md ? "\n" : "", r.quantized.file.c_str(),
                    r.method.empty() ? "method not recorded" : r.method.c_str());
    std::printf("\n");
    Table t({"model", "file size", "prompt tok/s", "generation tok/s", "median ms/step", "peak RSS",
             "load s"});
    for (const auto* m : {&r.original, &r.quantized})
        t.add({m->role, human_bytes(m->file_bytes), rate_spread(m->prompt_tokens_per_s),
               rate_spread(m->gen_tokens_per_s), fixed(m->step_ms.median, 3),
               human_bytes(m->peak_rss_bytes), fixed(m->load_seconds.median, 3)});
    t.add({"quantized / original", fixed(1.0 / std::max(r.size_ratio, 1e-300), 2) + "x",
           fixed(r.prompt_speedup, 2) + "x", fixed(r.gen_speedup, 2) + "x",
           fixed(r.quantized.step_ms.median / std::max(r.original.step_ms.median, 1e-300), 2) + "x",
           fixed(r.memory_ratio, 2) + "x", ""});
    t.print(md);
    std::printf("\n%sgreedy ids: the first %lld of %lld the same in both models\n", md ? "" : "",
                static_cast<long long>(r.same_prefix_tokens), static_cast<long long>(r.gen_tokens));
    for (const auto* m : {&r.original, &r.quantized})
        if (!m->ids_stable)
            std::printf("%snote: the %s model's runs did not all generate the same ids\n",
                        md ? "\n" : "", m->role.c_str());
}

}  // namespace sutra::app
