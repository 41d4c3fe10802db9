#include "sutra/pipeline/validate.hpp"

#include <algorithm>
#include <cstdio>

#include "sutra/format/qbin_reader.hpp"
#include "sutra/io/checkpoint.hpp"

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

}  // namespace

Result<ValidateReport> run_validate(const ValidateOptions& opt, ProgressObserver* progress) {
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
    bool failed = !rep.damaged.empty() || !rep.mismatches.empty();
    for (const auto& t : rep.tensors)
        failed = failed || !t.failures.empty();
    rep.passed = !failed;
    return rep;
}

}  // namespace sutra::pipeline
