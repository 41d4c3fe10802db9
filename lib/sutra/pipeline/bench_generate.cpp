#include "sutra/pipeline/bench_generate.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "sutra/base/stopwatch.hpp"
#include "sutra/base/thread_pool.hpp"
#include "sutra/model/blas.hpp"
#include "sutra/model/generate.hpp"
#include "sutra/model/model_source.hpp"
#include "sutra/model/sampler.hpp"
#include "sutra/model/text_tokens.hpp"
#include "sutra/model/tokenizer.hpp"
#include "sutra/pipeline/bench_child.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::pipeline {
namespace fs = std::filesystem;
using json = nlohmann::json;

const char* const kBenchPromptText =
    "Once upon a time, in a small town by the sea, there lived an old fisherman named Tom. "
    "Every morning he walked down to the harbour, checked his nets and talked to the gulls. "
    "One day a little girl called Lily came to watch him work. She asked him why the sea was "
    "blue and where the fish went at night. Tom laughed and told her that the sea kept many "
    "secrets, and that the best way to learn them was to be patient and to listen. From that "
    "day on, Lily came back every morning, and the two of them became the best of friends. ";

namespace {

using Clock = std::chrono::steady_clock;

// `first` then `repeat` again and again, cut at n ids (`repeat` empty: `first` cut at n).
std::vector<int32_t> fill_to(std::vector<int32_t> first, const std::vector<int32_t>& repeat,
                             size_t n) {
    while (first.size() < n && !repeat.empty())
        first.insert(
            first.end(), repeat.begin(),
            repeat.begin() + static_cast<ptrdiff_t>(std::min(repeat.size(), n - first.size())));
    if (first.size() > n) first.resize(n);
    return first;
}

uint64_t splitmix64(uint64_t& s) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// n ids in [0, vocab): the BOS first where the model has one, then pseudo-random ids that are
// neither BOS nor EOS.
std::vector<int32_t> random_prompt(const model::ModelInfo& info, size_t n) {
    std::vector<int32_t> ids;
    if (info.bos_id >= 0) ids.push_back(info.bos_id);
    uint64_t state = kBenchPromptSeed;
    const auto special = [&](int32_t id) {
        return id == info.bos_id ||
               std::find(info.eos_ids.begin(), info.eos_ids.end(), id) != info.eos_ids.end();
    };
    const auto vocab = static_cast<uint64_t>(info.vocab_size);
    while (ids.size() < n) {
        const auto id = static_cast<int32_t>(splitmix64(state) % vocab);
        if (!special(id) || vocab <= 1 + info.eos_ids.size()) ids.push_back(id);
    }
    ids.resize(n);
    return ids;
}

struct Prompt {
    std::vector<int32_t> ids;
    std::string source, tokenizer, family;
};

// The prompt ids, from the original model (the quantized one has the same vocabulary: its
// source was checked).
Result<Prompt> make_prompt(const GenerateBenchOptions& opt, int64_t n) {
    SUTRA_ASSIGN(model::ModelSource src, model::open_model(opt.quantize.input, std::nullopt));
    SUTRA_ASSIGN(std::unique_ptr<model::Model> m, model::open_runtime(src));
    const model::ModelInfo& info = m->info();
    Prompt p;
    p.family = info.family + " " + info.variant;
    if (opt.tokens_file) {
        SUTRA_ASSIGN(p.ids, model::read_token_ids_file(*opt.tokens_file, info.vocab_size));
        if (p.ids.empty())
            return make_error(Errc::invalid_argument,
                              "--tokens-file " + opt.tokens_file->string() +
                                  " holds no token ids; the prompt needs at least one");
        p.source = "tokens-file";
        return p;
    }
    auto tok = model::open_model_tokenizer(src.dir, opt.quantize.tokenizer, info);
    // Text needs the tokenizer; the built-in prompt falls back to ids when the folder has none
    // (but a --tokenizer that cannot be read is an error).
    if (!tok && (opt.prompt || opt.quantize.tokenizer || tok.error().code != Errc::not_found))
        return tok.take_error();
    const auto count = static_cast<size_t>(n);
    if (!tok) {
        p.ids = random_prompt(info, count);
        p.source = "random";
        return p;
    }
    const tokenize::Tokenizer& t = *tok->loaded.tokenizer;
    p.tokenizer = t.describe();
    const std::string text = opt.prompt ? *opt.prompt : std::string(kBenchPromptText);
    p.source = opt.prompt ? "text" : "builtin-text";
    p.ids = fill_to(t.encode(text, true), t.encode(text, false), count);
    if (p.ids.size() < count)
        return make_error(Errc::invalid_argument,
                          "--prompt gives no tokens with " + p.tokenizer +
                              "; give a non-empty text (or --tokens-file IDS)");
    return p;
}

// One run, in the child: open, load every weight (one token through the model), the prompt
// pass, gen_tokens greedy steps.
Result<json> run_once(const fs::path& file, const std::optional<fs::path>& model_dir,
                      const std::vector<int32_t>& prompt, int64_t gen_tokens) {
    const auto t_load = Clock::now();
    SUTRA_ASSIGN(model::ModelSource src, model::open_model(file, model_dir));
    model::ModelOptions mo;
    mo.keep_weights = true;  // as `sutra generate` runs: every step runs every block
    SUTRA_ASSIGN(std::unique_ptr<model::Model> m, model::open_runtime(src, mo));
    std::vector<float> logits;
    {
        std::unique_ptr<model::SequenceState> warm = m->new_state();
        if (!warm) return make_error(Errc::internal, "bench --generate: no sequence state");
        SUTRA_TRY(
            model::run_tokens(*m, std::span<const int32_t>(prompt.data(), 1), 0, *warm, logits));
    }
    const double load_seconds = seconds_since(t_load);

    model::SamplerOptions so;
    so.temperature = 0.0;  // greedy
    SUTRA_ASSIGN(model::Sampler sampler, model::Sampler::create(so));
    std::unique_ptr<model::SequenceState> state = m->new_state();
    if (!state) return make_error(Errc::internal, "bench --generate: no sequence state");
    const auto t_prompt = Clock::now();
    SUTRA_TRY(model::run_tokens(*m, prompt, 0, *state, logits));
    const double prompt_seconds = seconds_since(t_prompt);

    std::vector<int32_t> ids;
    std::vector<double> steps;
    ids.reserve(static_cast<size_t>(gen_tokens));
    steps.reserve(static_cast<size_t>(gen_tokens));
    auto position = static_cast<int64_t>(prompt.size());
    for (int64_t n = 0; n < gen_tokens; ++n) {
        const auto t0 = Clock::now();
        SUTRA_ASSIGN(const int32_t id, sampler.sample(logits));
        SUTRA_TRY(
            model::run_tokens(*m, std::span<const int32_t>(&id, 1), position, *state, logits));
        steps.push_back(seconds_since(t0));
        ids.push_back(id);
        ++position;
    }
    double gen_seconds = 0;
    for (double s : steps)
        gen_seconds += s;
    return json{{"load_seconds", load_seconds}, {"prompt_seconds", prompt_seconds},
                {"gen_seconds", gen_seconds},   {"step_seconds", steps},
                {"prompt_ids", prompt},         {"generated_ids", ids}};
}

std::string base_names(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& n : v)
        s += (s.empty() ? "" : ", ") + n;
    return s.empty() ? "no files" : s;
}

// Removes the temporary .qbin however the bench ends.
struct RemoveOnExit {
    fs::path path;
    ~RemoveOnExit() {
        if (path.empty()) return;
        std::error_code ec;
        fs::remove(path, ec);
    }
};

struct Runs {
    std::vector<double> load, prompt, prompt_rate, gen, gen_rate, steps_ms;
    uint64_t peak = 0, start = 0;
    std::vector<int32_t> prompt_ids, generated_ids;
    bool ids_stable = true;
};

void add_run(Runs& r, const ChildResult& c) {
    const json& v = c.value;
    const double prompt_s = v["prompt_seconds"].get<double>();
    const double gen_s = v["gen_seconds"].get<double>();
    auto prompt_ids = v["prompt_ids"].get<std::vector<int32_t>>();
    auto ids = v["generated_ids"].get<std::vector<int32_t>>();
    r.load.push_back(v["load_seconds"].get<double>());
    r.prompt.push_back(prompt_s);
    r.prompt_rate.push_back(prompt_s > 0 ? static_cast<double>(prompt_ids.size()) / prompt_s : 0);
    r.gen.push_back(gen_s);
    r.gen_rate.push_back(gen_s > 0 ? static_cast<double>(ids.size()) / gen_s : 0);
    for (double s : v["step_seconds"].get<std::vector<double>>())
        r.steps_ms.push_back(1e3 * s);
    r.peak = std::max(r.peak, c.peak_rss_bytes);
    r.start = std::max(r.start, c.start_rss_bytes);
    if (r.generated_ids.empty() && r.prompt_ids.empty()) {
        r.prompt_ids = std::move(prompt_ids);
        r.generated_ids = std::move(ids);
    } else if (ids != r.generated_ids || prompt_ids != r.prompt_ids) {
        r.ids_stable = false;
    }
}

GenerateModelBench summarize(std::string role, const fs::path& file, uint64_t bytes, Runs r) {
    GenerateModelBench b;
    b.role = std::move(role);
    b.file = file.string();
    b.file_bytes = bytes;
    b.load_seconds = spread_of(r.load);
    b.prompt_seconds = spread_of(r.prompt);
    b.prompt_tokens_per_s = spread_of(r.prompt_rate);
    b.gen_seconds = spread_of(r.gen);
    b.gen_tokens_per_s = spread_of(r.gen_rate);
    b.step_ms = spread_of(r.steps_ms);
    b.peak_rss_bytes = r.peak;
    b.start_rss_bytes = r.start;
    b.prompt_ids = std::move(r.prompt_ids);
    b.generated_ids = std::move(r.generated_ids);
    b.ids_stable = r.ids_stable;
    return b;
}

double ratio(double a, double b) {
    return b > 0 ? a / b : 0;
}

}  // namespace

Status check_qbin_source(const format::QbinFile& qbin, const fs::path& qbin_path,
                         const io::Checkpoint& original, const fs::path& model_path) {
    const std::string both =
        "--against " + qbin_path.string() + " was not made from " + model_path.string() + ": ";
    const std::string fix =
        "; give the .qbin quantized from MODEL, or drop --against to quantize MODEL in this run";
    const json& p = qbin.profile();
    if (!p.contains("source") || !p["source"].is_object() || !p["source"].contains("bytes") ||
        !p["source"]["bytes"].is_number_unsigned() || !p["source"].contains("files") ||
        !p["source"]["files"].is_array())
        return make_error(Errc::invalid_argument,
                          "--against " + qbin_path.string() +
                              ": the .qbin records no source (files and size of the model it "
                              "was made from), so it cannot be checked against " +
                              model_path.string() + "; quantize MODEL again with sutra");
    std::vector<std::string> qfiles, mfiles;
    for (const auto& f : p["source"]["files"])
        qfiles.push_back(f.is_string() ? f.get<std::string>() : f.dump());
    for (const auto& f : original.files())
        mfiles.push_back(f.path().filename().string());
    const auto qbytes = p["source"]["bytes"].get<uint64_t>();
    if (qbytes != original.total_file_bytes() || qfiles != mfiles)
        return make_error(Errc::invalid_argument,
                          both + "it records " + base_names(qfiles) + " (" +
                              std::to_string(qbytes) + " bytes) as its source, MODEL is " +
                              base_names(mfiles) + " (" +
                              std::to_string(original.total_file_bytes()) + " bytes)" + fix);
    for (const auto& r : qbin.records()) {
        const io::TensorRef* t = original.find(r.name);
        if (!t)
            return make_error(Errc::invalid_argument,
                              both + "its tensor '" + r.name + "' is not in MODEL" + fix);
        if (t->shape != r.shape)
            return make_error(Errc::invalid_argument,
                              both + "tensor '" + r.name + "' has another shape in MODEL" + fix);
    }
    if (qbin.records().size() != original.tensors().size())
        return make_error(Errc::invalid_argument,
                          both + "it holds " + std::to_string(qbin.records().size()) +
                              " tensors, MODEL " + std::to_string(original.tensors().size()) + fix);
    return {};
}

Result<GenerateBenchReport> run_generate_bench(const GenerateBenchOptions& opt,
                                               ProgressObserver* progress) {
    if (opt.runs < 1) return make_error(Errc::invalid_argument, "--runs must be at least 1");
    if (opt.warmup < 0) return make_error(Errc::invalid_argument, "--warmup must be 0 or more");
    if (opt.gen_tokens < 1 || opt.gen_tokens > (1 << 20))
        return make_error(Errc::invalid_argument,
                          "--gen-tokens " + std::to_string(opt.gen_tokens) +
                              ": must be between 1 and 1048576 (decode steps timed)");
    if (opt.prompt_tokens && (*opt.prompt_tokens < 1 || *opt.prompt_tokens > (1 << 20)))
        return make_error(Errc::invalid_argument, "--prompt-tokens " +
                                                      std::to_string(*opt.prompt_tokens) +
                                                      ": must be between 1 and 1048576");
    if (opt.prompt && opt.tokens_file)
        return make_error(Errc::invalid_argument,
                          "give the prompt as --prompt TEXT or --tokens-file IDS, not both");
    if (opt.tokens_file && opt.prompt_tokens)
        return make_error(Errc::invalid_argument,
                          "--prompt-tokens sets the length of a text prompt; with --tokens-file "
                          "the prompt is the file's ids, all of them (drop one of the two)");
    if (!opt.against) SUTRA_TRY(check_bench_methods({opt.method}, opt.quantize));
    const fs::path& model_path = opt.quantize.input;
    SUTRA_ASSIGN(io::Checkpoint ck, io::Checkpoint::open(model_path));
    {
        SUTRA_ASSIGN(model::ModelSource src, model::open_model(model_path, std::nullopt));
        if (src.qbin)
            return make_error(Errc::invalid_argument,
                              model_path.string() +
                                  " is a .qbin: MODEL is the original checkpoint; give the .qbin "
                                  "as --against OUT.qbin");
    }
    GenerateBenchReport rep;
    rep.model = model_path.string();
    rep.threads = opt.quantize.threads ? opt.quantize.threads : default_threads();
    rep.isa = simd::active().name;
    rep.blas = model::blas_core_name();
    rep.runs = opt.runs;
    rep.warmup = opt.warmup;
    rep.gen_tokens = opt.gen_tokens;

    fs::path qbin_path;
    std::optional<format::QbinFile> qbin;
    if (opt.against) {
        qbin_path = *opt.against;
        auto q = format::QbinFile::open(qbin_path);
        if (!q)
            return make_error(q.error().code, "--against: " + q.error().message +
                                                  " (--against takes a .qbin made from MODEL)");
        qbin = std::move(*q);
        SUTRA_TRY(check_qbin_source(*qbin, qbin_path, ck, model_path));
    }

    SUTRA_ASSIGN(Prompt prompt,
                 make_prompt(opt, opt.prompt_tokens.value_or(kDefaultBenchPromptTokens)));
    rep.prompt_ids = prompt.ids;
    rep.prompt_tokens = static_cast<int64_t>(prompt.ids.size());
    rep.prompt_source = prompt.source;
    rep.tokenizer = prompt.tokenizer;
    rep.family = prompt.family;

    const int children = 2 * (opt.warmup + opt.runs);
    if (progress) progress->on_stage("bench generate", static_cast<uint64_t>(children + 1));
    uint64_t step = 0;
    RemoveOnExit scratch;
    if (!opt.against) {
        fs::path dir = opt.out_dir;
        if (dir.empty()) {
            std::error_code ec;
            dir = fs::temp_directory_path(ec);
            if (ec) dir = ".";
        }
        qbin_path = dir / ("sutra-bench-" + std::to_string(::getpid()) + "-generate.qbin");
        scratch.path = qbin_path;
        QuantizeOptions q = opt.quantize;
        q.output = qbin_path;
        q.force = true;
        q.dry_run = false;
        q.method = opt.method;
        if (progress) progress->on_progress("quantize " + opt.method, step);
        const auto quantize = [&q]() -> Result<json> {
            SUTRA_ASSIGN(QuantizeReport r, run_quantize(q, nullptr));
            return json{{"seconds", r.seconds}};
        };
        SUTRA_ASSIGN(const ChildResult qc, run_in_child("quantize " + opt.method, quantize));
        rep.quantize_seconds = qc.value["seconds"].get<double>();
        rep.quantized_by = "bench";
        SUTRA_ASSIGN(format::QbinFile made, format::QbinFile::open(qbin_path));
        qbin = std::move(made);
    } else {
        rep.quantized_by = "against";
    }
    ++step;
    const json& profile = qbin->profile();
    rep.method = profile.contains("method") && profile["method"].is_string()
                     ? profile["method"].get<std::string>()
                     : "";
    const uint64_t qbin_bytes = qbin->file_size();
    qbin.reset();  // the children open it themselves

    // The .qbin runs with the original's folder (config.json, tokenizer), as validate does.
    const fs::path model_dir = ck.model_dir();
    Runs orig_runs, quant_runs;
    for (int r = 0; r < opt.warmup + opt.runs; ++r) {
        const bool measured = r >= opt.warmup;
        const std::string tag = measured ? "run " + std::to_string(r - opt.warmup + 1)
                                         : "warm-up " + std::to_string(r + 1);
        for (int k = 0; k < 2; ++k) {
            const bool quant = k == 1;
            const std::string what = (quant ? "quantized " : "original ") + tag;
            if (progress) progress->on_progress(what, step);
            const fs::path& file = quant ? qbin_path : model_path;
            const std::optional<fs::path> dir =
                quant ? std::optional<fs::path>(model_dir) : std::nullopt;
            const auto work = [&]() { return run_once(file, dir, prompt.ids, opt.gen_tokens); };
            SUTRA_ASSIGN(const ChildResult c, run_in_child("bench --generate " + what, work));
            if (measured) add_run(quant ? quant_runs : orig_runs, c);
            ++step;
        }
    }
    if (progress) progress->on_stage_end();

    rep.original = summarize("original", model_path, ck.total_file_bytes(), std::move(orig_runs));
    rep.quantized = summarize("quantized", opt.against ? *opt.against : qbin_path, qbin_bytes,
                              std::move(quant_runs));
    rep.prompt_speedup =
        ratio(rep.quantized.prompt_tokens_per_s.median, rep.original.prompt_tokens_per_s.median);
    rep.gen_speedup =
        ratio(rep.quantized.gen_tokens_per_s.median, rep.original.gen_tokens_per_s.median);
    rep.memory_ratio = ratio(static_cast<double>(rep.quantized.peak_rss_bytes),
                             static_cast<double>(rep.original.peak_rss_bytes));
    rep.size_ratio = ratio(static_cast<double>(rep.original.file_bytes),
                           static_cast<double>(rep.quantized.file_bytes));
    const auto& a = rep.original.generated_ids;
    const auto& b = rep.quantized.generated_ids;
    while (rep.same_prefix_tokens < static_cast<int64_t>(std::min(a.size(), b.size())) &&
           a[static_cast<size_t>(rep.same_prefix_tokens)] ==
               b[static_cast<size_t>(rep.same_prefix_tokens)])
        ++rep.same_prefix_tokens;
    return rep;
}

}  // namespace sutra::pipeline
