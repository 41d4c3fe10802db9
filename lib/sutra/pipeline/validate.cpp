#include "sutra/pipeline/validate.hpp"

#include <algorithm>
#include <cstdio>

#include "sutra/format/qbin_reader.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/io/model_path.hpp"
#include "sutra/model/evaluate.hpp"
#include "sutra/model/llama/llama.hpp"
#include "sutra/model/model_source.hpp"
#include "sutra/model/text_tokens.hpp"

namespace sutra::pipeline {
namespace {

std::string fmt_g(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.4g", v);
    return b;
}

Status compare(const format::QbinFile& q, const io::Checkpoint& orig, const Thresholds& th,
               ValidateReport& rep, ProgressObserver* progress) {
    uint64_t done = 0;
    if (progress) progress->on_stage("compare", orig.total_file_bytes());
    std::vector<float> a, b;
    for (const auto& r : q.records()) {
        const io::TensorRef* t = orig.find(r.name);
        if (!t) {
            rep.mismatches.push_back("'" + r.name + "' is not in the original checkpoint");
            continue;
        }
        if (t->shape != r.shape) {
            rep.mismatches.push_back("'" + r.name +
                                     "' has a different shape in the original checkpoint");
            continue;
        }
        if (!dtype_is_float_quantizable(t->dtype) || !dtype_is_float_quantizable(r.dtype)) continue;
        if (r.transformed) {  // scales folded in: comparable only as a model (--text)
            rep.transformed.push_back(r.name);
            continue;
        }
        TensorCheck c;
        c.name = r.name;
        c.encoding = r.quantized ? "q" + std::to_string(r.bits) : "raw";
        const uint64_t nr = format::QbinFile::rows_of(r), nc = format::QbinFile::cols_of(r);
        const uint64_t block = std::max<uint64_t>(1, (4u << 20) / std::max<uint64_t>(nc, 1));
        for (uint64_t r0 = 0; r0 < nr && nc > 0; r0 += block) {
            const uint64_t n = std::min(block, nr - r0);
            a.resize(n * nc);
            b.resize(n * nc);
            SUTRA_TRY(orig.read_f32(*t, r0 * nc, a));
            SUTRA_TRY(q.read_rows_f32(r, r0, n, b.data()));
            c.stats.add(a.data(), b.data(), a.size());
        }
        if (th.max_mse && c.stats.mse() > *th.max_mse)
            c.failures.push_back("mse " + fmt_g(c.stats.mse()) + " > " + fmt_g(*th.max_mse));
        if (th.max_rel_error && c.stats.rel_error() > *th.max_rel_error)
            c.failures.push_back("rel_error " + fmt_g(c.stats.rel_error()) + " > " +
                                 fmt_g(*th.max_rel_error));
        if (th.min_correlation && c.stats.correlation() < *th.min_correlation)
            c.failures.push_back("correlation " + fmt_g(c.stats.correlation()) + " < " +
                                 fmt_g(*th.min_correlation));
        done += t->nbytes;
        if (progress) progress->on_progress(r.name, done);
        rep.tensors.push_back(std::move(c));
    }
    for (const auto& t : orig.tensors())
        if (!q.find(t.name))
            rep.mismatches.push_back("'" + t.name + "' of the original is missing from the .qbin");
    if (progress) progress->on_stage_end();
    return {};
}

std::string fmt_pct(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f%%", v * 100.0);
    return b;
}

Status check_options(const ValidateOptions& opt) {
    const Thresholds& th = opt.thresholds;
    const bool quality = opt.text || opt.tokens;
    if (opt.text && opt.tokens)
        return make_error(Errc::invalid_argument,
                          "give at most one of --text FILE and --tokens-file IDS");
    if (quality && !opt.against)
        return make_error(Errc::invalid_argument,
                          "--text / --tokens-file need --against ORIGINAL (the original model's "
                          "folder supplies config.json and the tokenizer)");
    if ((th.max_ppl_increase || th.max_kl) && !quality)
        return make_error(Errc::invalid_argument,
                          "--max-ppl-increase and --max-kl need a text: pass --text FILE or "
                          "--tokens-file IDS (and --against ORIGINAL)");
    if (quality && opt.seq_len < 2)
        return make_error(Errc::invalid_argument, "--seq-len must be at least 2 (BOS + one token)");
    if (opt.max_tokens < 0)
        return make_error(Errc::invalid_argument, "--max-tokens must not be negative (0 = all)");
    return {};
}

// The original and the .qbin run on the same windows; config.json and the tokenizer come from
// the original model's folder.
Status check_quality(const ValidateOptions& opt, ValidateReport& rep, ProgressObserver* progress) {
    SUTRA_ASSIGN(model::ModelSource orig, model::open_model(*opt.against, std::nullopt));
    SUTRA_ASSIGN(model::ModelSource quant, model::open_model(opt.qbin, orig.dir));
    auto ref_model = model::open_runtime(orig);
    if (!ref_model && ref_model.error().code == Errc::not_found)
        return make_error(Errc::not_found,
                          ref_model.error().message +
                              " (the quality check runs the original model, so --against must "
                              "name its folder, or a checkpoint in it, with config.json and the "
                              "tokenizer)");
    if (!ref_model) return ref_model.error();
    model::Model& ref = **ref_model;
    SUTRA_ASSIGN(std::unique_ptr<model::Model> cand_model, model::open_runtime(quant));
    model::Model& cand = *cand_model;
    model::TextInput in;
    if (opt.text) in.texts.push_back(*opt.text);
    in.tokens_file = opt.tokens;
    in.tokenizer = opt.tokenizer;
    SUTRA_ASSIGN(model::TextTokens text, model::load_eval_tokens(orig.dir, ref.info(), in));
    const std::vector<int32_t>& tokens = text.tokens;
    model::EvalOptions eo;
    eo.seq_len = opt.seq_len;
    eo.max_tokens = opt.max_tokens;
    if (text.window_start >= 0) eo.bos_id = text.window_start;
    if (progress) {
        progress->on_stage("quality", static_cast<uint64_t>(tokens.size()));
        eo.progress = [progress](int64_t done, int64_t) {
            progress->on_progress("tokens", static_cast<uint64_t>(done));
            return true;
        };
    }
    SUTRA_ASSIGN(model::CompareResult r, model::compare_models(ref, cand, tokens, eo));
    if (progress) progress->on_stage_end();

    QualityCheck q;
    q.source = (opt.text ? *opt.text : *opt.tokens).string();
    q.seq_len = opt.seq_len;
    q.tokens = r.tokens;
    q.windows = r.reference.windows;
    q.original_perplexity = r.reference.perplexity;
    q.quantized_perplexity = r.candidate.perplexity;
    q.perplexity_increase = r.candidate.perplexity - r.reference.perplexity;
    q.perplexity_increase_relative = q.perplexity_increase / r.reference.perplexity;
    q.mean_kl = r.mean_kl;
    q.top1_agreement = r.top1_agreement;
    const Thresholds& th = opt.thresholds;
    if (th.max_ppl_increase && q.perplexity_increase_relative > *th.max_ppl_increase)
        q.failures.push_back("perplexity increase " + fmt_pct(q.perplexity_increase_relative) +
                             " > " + fmt_pct(*th.max_ppl_increase) + " (--max-ppl-increase " +
                             fmt_g(*th.max_ppl_increase) + ")");
    if (th.max_kl && q.mean_kl > *th.max_kl)
        q.failures.push_back("mean KL " + fmt_g(q.mean_kl) + " > " + fmt_g(*th.max_kl) +
                             " (--max-kl)");
    rep.quality = std::move(q);
    return {};
}

}  // namespace

Result<ValidateReport> run_validate(const ValidateOptions& opt, ProgressObserver* progress) {
    SUTRA_TRY(check_options(opt));
    ValidateReport rep;
    rep.file = opt.qbin.string();
    auto q = format::QbinFile::open(opt.qbin);
    if (!q.ok()) {
        const Errc c = q.error().code;
        if (c == Errc::not_found || c == Errc::io || c == Errc::invalid_argument)
            return q.take_error();
        rep.structure_error = q.error().message;
        return rep;
    }
    rep.structure_ok = true;
    rep.stored_tensors = q->container().tensors().size();
    SUTRA_ASSIGN(auto damage, q->verify_data());
    for (const auto& d : damage)
        rep.damaged.push_back("'" + d.record + "' (stored '" + d.stored + "'): checksum " +
                              d.actual + ", expected " + d.expected);
    if (opt.against) {
        SUTRA_ASSIGN(io::Checkpoint orig, io::Checkpoint::open(*opt.against));
        rep.compared = true;
        SUTRA_TRY(compare(*q, orig, opt.thresholds, rep, progress));
    }
    if ((opt.text || opt.tokens) && rep.damaged.empty() && rep.mismatches.empty())
        SUTRA_TRY(check_quality(opt, rep, progress));
    bool failed = !rep.damaged.empty() || !rep.mismatches.empty();
    for (const auto& t : rep.tensors)
        failed = failed || !t.failures.empty();
    if (rep.quality) failed = failed || !rep.quality->failures.empty();
    rep.passed = !failed;
    return rep;
}

}  // namespace sutra::pipeline
