#include "sutra/pipeline/bench_accuracy.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>

#include "sutra/base/checksum.hpp"
#include "sutra/base/stopwatch.hpp"
#include "sutra/base/thread_pool.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/evaluate.hpp"
#include "sutra/model/llama/llama.hpp"
#include "sutra/model/model_source.hpp"
#include "sutra/model/text_tokens.hpp"
#include "sutra/pipeline/bench.hpp"
#include "sutra/pipeline/bench_child.hpp"
#include "sutra/pipeline/calibrate.hpp"
#include "sutra/quant/quant_type.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::pipeline {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

Result<uint64_t> content_hash(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in)
        return make_error(Errc::io, p.string() + ": cannot open to compare with the other text");
    Hasher h;
    std::vector<char> buf(1u << 20);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        const auto n = static_cast<size_t>(in.gcount());
        if (n) h.update({reinterpret_cast<const uint8_t*>(buf.data()), n});
    }
    if (in.bad()) return make_error(Errc::io, p.string() + ": read failed");
    return h.digest();
}

Result<struct stat> stat_of(const fs::path& p, const char* flag) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0)
        return make_error(Errc::not_found, std::string(flag) + " " + p.string() + ": not found");
    return st;
}

// Where the outputs of this run go: `dir` (default: the temp dir), named after the process.
struct Scratch {
    fs::path dir;
    std::string tag;
    std::vector<fs::path> files;  // removed at the end, whatever happens
    fs::path file(const std::string& name) {
        files.push_back(dir / (tag + "-" + name));
        return files.back();
    }
    ~Scratch() {
        std::error_code ec;
        for (const auto& f : files)
            fs::remove(f, ec);
    }
};

std::string point_name(const std::string& method, int bits) {
    return method + (bits ? " " + std::to_string(bits) + "-bit" : "");
}

struct EvalText {
    std::vector<int32_t> tokens;
    int32_t bos = -1;
    std::string tokenizer;
};

Result<EvalText> load_eval_text(const AccuracyBenchOptions& opt) {
    SUTRA_ASSIGN(model::ModelSource src, model::open_model(opt.quantize.input, std::nullopt));
    model::TextInput in;
    in.texts.push_back(opt.eval_text);
    in.tokenizer = opt.quantize.tokenizer;
    SUTRA_ASSIGN(std::unique_ptr<model::Model> m, model::open_runtime(src));
    SUTRA_ASSIGN(model::TextTokens t, model::load_eval_tokens(src.dir, m->info(), in));
    EvalText e;
    e.tokens = std::move(t.tokens);
    e.tokenizer = t.tokenizer;
    e.bos = t.window_start;
    return e;
}

// Child: the full-precision model and the .qbin on the same windows.
Result<json> evaluate_point(const AccuracyBenchOptions& opt, const EvalText& text,
                            const fs::path& qbin) {
    SUTRA_ASSIGN(model::ModelSource orig, model::open_model(opt.quantize.input, std::nullopt));
    SUTRA_ASSIGN(model::ModelSource quant, model::open_model(qbin, orig.dir));
    SUTRA_ASSIGN(std::unique_ptr<model::Model> ref, model::open_runtime(orig));
    SUTRA_ASSIGN(std::unique_ptr<model::Model> cand, model::open_runtime(quant));
    model::EvalOptions eo;
    eo.seq_len = opt.eval_seq_len;
    eo.max_tokens = opt.eval_tokens;
    eo.bos_id = text.bos;
    SUTRA_ASSIGN(model::CompareResult r, model::compare_models(*ref, *cand, text.tokens, eo));
    return json{{"reference_perplexity", r.reference.perplexity},
                {"perplexity", r.candidate.perplexity},
                {"mean_kl", r.mean_kl},
                {"top1_agreement", r.top1_agreement},
                {"tokens", r.tokens},
                {"windows", r.reference.windows}};
}

}  // namespace

Status check_eval_text_differs(const fs::path& eval, const std::vector<fs::path>& calib) {
    SUTRA_ASSIGN(const struct stat es, stat_of(eval, "--eval-text"));
    std::optional<uint64_t> eval_hash;
    for (const auto& c : calib) {
        SUTRA_ASSIGN(const struct stat cs, stat_of(c, "--calib-text"));
        std::string why;
        if (es.st_dev == cs.st_dev && es.st_ino == cs.st_ino) {
            why = "is the same file as";
        } else if (es.st_size == cs.st_size) {
            if (!eval_hash) {
                SUTRA_ASSIGN(eval_hash, content_hash(eval));
            }
            SUTRA_ASSIGN(const uint64_t ch, content_hash(c));
            if (ch == *eval_hash) why = "has the same contents as";
        }
        if (!why.empty())
            return make_error(Errc::invalid_argument,
                              "--eval-text " + eval.string() + " " + why + " --calib-text " +
                                  c.string() +
                                  ": a model scored on its own calibration text looks better "
                                  "than it is; evaluate on held-out text (e.g. "
                                  "tinystories_eval.txt beside tinystories_calib.txt)");
    }
    return {};
}

Result<AccuracyBenchReport> run_accuracy_bench(const AccuracyBenchOptions& opt,
                                               ProgressObserver* progress) {
    SUTRA_TRY(check_bench_methods(opt.methods, opt.quantize));
    for (int b : opt.bits)
        if (!quant::quant_type_for_bits(b))
            return make_error(Errc::invalid_argument,
                              "--bits " + std::to_string(b) + ": must be 3, 4 or 8");
    if (opt.eval_seq_len < 2)
        return make_error(Errc::invalid_argument,
                          "--eval-seq-len must be at least 2 (BOS + one token)");
    if (opt.eval_tokens < 0)
        return make_error(Errc::invalid_argument, "--eval-tokens must not be negative (0 = all)");
    if (opt.quantize.calib && !opt.quantize.calib_text.empty())
        return make_error(Errc::invalid_argument,
                          "give --calib (statistics) or --calib-text (text), not both");
    SUTRA_TRY(check_eval_text_differs(opt.eval_text, opt.quantize.calib_text));

    AccuracyBenchReport rep;
    {
        SUTRA_ASSIGN(io::Checkpoint ck, io::Checkpoint::open(opt.quantize.input));
        rep.input_bytes = ck.total_file_bytes();
        for (const auto& t : ck.tensors())
            rep.weights += t.numel;
    }
    rep.model = opt.quantize.input.string();
    rep.threads = opt.quantize.threads ? opt.quantize.threads : default_threads();
    rep.isa = simd::active().name;
    rep.preset = opt.quantize.preset;
    if (opt.quantize.config_file) rep.config_file = opt.quantize.config_file->string();
    if (opt.quantize.overrides.group_size)
        rep.group_size = plan::group_size_text(*opt.quantize.overrides.group_size);
    rep.eval_text = opt.eval_text.string();
    rep.eval_seq_len = opt.eval_seq_len;

    SUTRA_ASSIGN(const EvalText text, load_eval_text(opt));
    rep.tokenizer = text.tokenizer;

    Scratch scratch;
    scratch.dir = opt.out_dir;
    if (scratch.dir.empty()) {
        std::error_code ec;
        scratch.dir = fs::temp_directory_path(ec);
        if (ec) scratch.dir = ".";
    }
    scratch.tag = "sutra-bench-" + std::to_string(::getpid());

    const std::vector<int> bits = opt.bits.empty() ? std::vector<int>{0} : opt.bits;
    const size_t points = opt.methods.size() * bits.size();
    bool calibrated = false;
    for (const auto& m : opt.methods)
        calibrated = calibrated || m != "rtn";
    const bool collect = calibrated && !opt.quantize.calib_text.empty();
    const uint64_t steps = 2 * points + (collect ? 1 : 0);
    uint64_t step = 0;
    if (progress) progress->on_stage("bench", steps);

    QuantizeOptions base = opt.quantize;
    base.force = true;
    base.dry_run = false;
    if (calibrated) {
        rep.calib_kind = collect ? "text" : "file";
        for (const auto& p : opt.quantize.calib_text)
            rep.calib_sources.push_back(p.string());
        if (opt.quantize.calib) rep.calib_sources.push_back(opt.quantize.calib->string());
    }
    if (collect) {
        CalibrateOptions co;
        co.model = opt.quantize.input;
        co.texts = opt.quantize.calib_text;
        co.tokenizer = opt.quantize.tokenizer;
        co.seed = opt.quantize.calib_seed;
        co.output = scratch.file("calib.safetensors");
        co.seq_len = opt.quantize.calib_seq_len;
        co.max_tokens = opt.quantize.calib_tokens;
        co.force = true;
        const auto calibrate = [&co]() -> Result<json> {
            SUTRA_ASSIGN(CalibrateReport r, run_calibrate(co, nullptr));
            return json{{"seconds", r.seconds}, {"windows", r.windows}, {"seq_len", r.seq_len}};
        };
        SUTRA_ASSIGN(const ChildResult cr, run_in_child("calibrate", calibrate));
        rep.calib_seconds = cr.value["seconds"].get<double>();
        rep.calib_windows = cr.value["windows"].get<int64_t>();
        rep.calib_seq_len = cr.value["seq_len"].get<int64_t>();
        rep.calib_peak_rss_bytes = cr.peak_rss_bytes;
        base.calib = co.output;
        base.calib_text.clear();
        if (progress) progress->on_progress("calibrate", ++step);
    }

    for (const auto& method : opt.methods) {
        for (int b : bits) {
            const std::string name = point_name(method, b);
            QuantizeOptions q = base;
            q.method = method;
            if (b) q.overrides.bits = b;
            if (method == "rtn") {  // needs no calibration: do not load it
                q.calib.reset();
                q.calib_text.clear();
            }
            std::string file = name;
            for (char& c : file)
                if (c == ' ') c = '-';
            q.output = scratch.file(file + ".qbin");
            if (progress) progress->on_progress(name + ": quantize", step);
            const auto quantize = [&q]() -> Result<json> {
                SUTRA_ASSIGN(QuantizeReport r, run_quantize(q, nullptr));
                return json{{"seconds", r.seconds},
                            {"output_bytes", r.output_file_bytes},
                            {"ratio", r.ratio},
                            {"method", r.method},
                            {"calib_windows", r.calib_windows},
                            {"calib_seq_len", r.calib_seq_len},
                            {"warnings", r.warnings}};
            };
            SUTRA_ASSIGN(const ChildResult qc, run_in_child("quantize " + name, quantize));
            if (progress) progress->on_progress(name + ": evaluate", ++step);
            const auto t0 = std::chrono::steady_clock::now();
            const auto evaluate = [&]() { return evaluate_point(opt, text, q.output); };
            auto evaluated = run_in_child("evaluate " + name, evaluate);
            {
                std::error_code rm;
                fs::remove(q.output, rm);
            }
            if (!evaluated) return evaluated.take_error();
            const ChildResult& ec = *evaluated;
            const double eval_seconds = seconds_since(t0);
            if (progress) progress->on_progress(name + ": done", ++step);

            AccuracyPoint p;
            p.method = method;
            p.method_used = qc.value["method"].get<std::string>();
            p.bits = b ? b : (opt.quantize.overrides.bits ? *opt.quantize.overrides.bits : 0);
            p.output_bytes = qc.value["output_bytes"].get<uint64_t>();
            p.compression_ratio = qc.value["ratio"].get<double>();
            p.bits_per_weight = rep.weights ? 8.0 * static_cast<double>(p.output_bytes) /
                                                  static_cast<double>(rep.weights)
                                            : 0;
            p.quantize_seconds = qc.value["seconds"].get<double>();
            p.peak_rss_bytes = qc.peak_rss_bytes;
            p.warnings = qc.value["warnings"].get<std::vector<std::string>>();
            const json& e = ec.value;
            rep.reference_perplexity = e["reference_perplexity"].get<double>();
            rep.eval_tokens = e["tokens"].get<int64_t>();
            rep.eval_windows = e["windows"].get<int64_t>();
            p.perplexity = e["perplexity"].get<double>();
            p.perplexity_increase = p.perplexity - rep.reference_perplexity;
            p.perplexity_increase_relative = p.perplexity_increase / rep.reference_perplexity;
            p.mean_kl = e["mean_kl"].get<double>();
            p.top1_agreement = e["top1_agreement"].get<double>();
            p.eval_seconds = eval_seconds;
            p.eval_peak_rss_bytes = ec.peak_rss_bytes;
            if (rep.calib_windows == 0 && qc.value["calib_windows"].get<int64_t>() > 0) {
                rep.calib_windows = qc.value["calib_windows"].get<int64_t>();
                rep.calib_seq_len = qc.value["calib_seq_len"].get<int64_t>();
            }
            rep.points.push_back(std::move(p));
        }
    }
    if (progress) progress->on_stage_end();
    return rep;
}

}  // namespace sutra::pipeline
