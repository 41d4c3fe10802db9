#include "sutra/pipeline/bench.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include "sutra/base/memory.hpp"
#include "sutra/base/suggest.hpp"
#include "sutra/base/thread_pool.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/plan/method.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::pipeline {
namespace fs = std::filesystem;
namespace {

using clock_type = std::chrono::steady_clock;

struct FileCloser {
    void operator()(std::FILE* f) const {
        if (f) std::fclose(f);
    }
};

// The copy limit: read every input file with buffered stdio, write `out_bytes` of it (the
// input repeated if shorter) to `out` with buffered stdio, fsync, remove. Seconds.
Result<double> copy_once(const std::vector<fs::path>& inputs, const fs::path& out,
                         uint64_t out_bytes) {
    std::vector<char> buf(1u << 20);
    struct RemoveOnExit {
        const fs::path& p;
        ~RemoveOnExit() {
            std::error_code ec;
            fs::remove(p, ec);
        }
    } cleanup{out};
    const auto t0 = clock_type::now();
    std::unique_ptr<std::FILE, FileCloser> o(std::fopen(out.c_str(), "wb"));
    if (!o) return make_error(Errc::io, out.string() + ": cannot create the copy-limit file");
    uint64_t written = 0;
    for (int pass = 0; written < out_bytes || pass == 0; ++pass) {
        for (const auto& in : inputs) {
            std::unique_ptr<std::FILE, FileCloser> f(std::fopen(in.c_str(), "rb"));
            if (!f) return make_error(Errc::io, in.string() + ": cannot open for the copy limit");
            size_t n;
            while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) {
                const size_t w = static_cast<size_t>(std::min<uint64_t>(n, out_bytes - written));
                if (w && std::fwrite(buf.data(), 1, w, o.get()) != w)
                    return make_error(Errc::io, out.string() + ": write failed (disk full?)");
                written += w;
            }
        }
        if (pass > 0 && written == 0) break;  // empty input
    }
    if (std::fflush(o.get()) != 0 || ::fsync(fileno(o.get())) != 0)
        return make_error(Errc::io, out.string() + ": flush failed");
    o.reset();
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

}  // namespace

Spread spread_of(std::vector<double> v) {
    Spread s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.min = v.front();
    s.max = v.back();
    const size_t n = v.size();
    s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return s;
}

Status check_bench_methods(const std::vector<std::string>& methods, const QuantizeOptions& q) {
    if (methods.empty())
        return make_error(Errc::invalid_argument, "--methods needs at least one method (choices: " +
                                                      join_names(plan::method_names()) + ")");
    for (const auto& m : methods) {
        SUTRA_TRY(plan::parse_method(m, "--methods"));
        if (m != "rtn" && m != "auto" && !q.calib && q.calib_text.empty() && !q.calib_ids)
            return make_error(Errc::invalid_argument,
                              "--methods " + m +
                                  " needs calibration: --calib stats.safetensors, "
                                  "--calib-text FILE or --calib-ids FILE");
    }
    return {};
}

Result<BenchReport> run_bench(const BenchOptions& opt, ProgressObserver* progress) {
    if (opt.runs < 1) return make_error(Errc::invalid_argument, "--runs must be at least 1");
    if (opt.warmup < 0) return make_error(Errc::invalid_argument, "--warmup must be 0 or more");
    SUTRA_TRY(check_bench_methods(opt.methods, opt.quantize));
    SUTRA_ASSIGN(io::Checkpoint ck, io::Checkpoint::open(opt.quantize.input));
    BenchReport rep;
    rep.model = opt.quantize.input.string();
    rep.input_bytes = ck.total_file_bytes();
    for (const auto& t : ck.tensors())
        rep.weights += t.numel;
    rep.threads = opt.quantize.threads ? opt.quantize.threads : default_threads();
    rep.isa = simd::active().name;
    rep.runs = opt.runs;
    rep.warmup = opt.warmup;
    const std::vector<fs::path> inputs = ck.input_paths();

    fs::path dir = opt.out_dir;
    if (dir.empty()) {
        std::error_code ec;
        dir = fs::temp_directory_path(ec);
        if (ec) dir = ".";
    }
    const std::string tag = "sutra-bench-" + std::to_string(::getpid());
    const fs::path out = dir / (tag + ".qbin");
    const fs::path copy_out = dir / (tag + ".copy");

    struct Runs {
        std::vector<double> seconds;
        std::array<std::vector<double>, kStageCount> stages;
        uint64_t peak = 0, output_bytes = 0;
    };
    std::vector<Runs> per(opt.methods.size());
    std::vector<double> copies;
    const int total = opt.warmup + opt.runs;
    if (progress) progress->on_stage("bench", static_cast<uint64_t>(total));
    for (int r = 0; r < total; ++r) {
        const bool measured = r >= opt.warmup;
        for (size_t m = 0; m < opt.methods.size(); ++m) {
            QuantizeOptions q = opt.quantize;
            q.output = out;
            q.force = true;
            q.dry_run = false;
            q.method = opt.methods[m];
            reset_peak_rss();
            SUTRA_ASSIGN(QuantizeReport qr, run_quantize(q, nullptr));
            std::error_code ec;
            fs::remove(out, ec);
            Runs& pr = per[m];
            pr.output_bytes = qr.output_file_bytes;
            if (!measured) continue;
            pr.seconds.push_back(qr.seconds);
            for (size_t s = 0; s < kStageCount; ++s)
                pr.stages[s].push_back(qr.stages.seconds(static_cast<Stage>(s)));
            pr.peak = std::max(pr.peak, qr.peak_rss_bytes);
        }
        // The copy writes as much as the first method's output.
        rep.copy_output_bytes = per[0].output_bytes;
        SUTRA_ASSIGN(double c, copy_once(inputs, copy_out, rep.copy_output_bytes));
        if (measured) copies.push_back(c);
        if (progress)
            progress->on_progress("run " + std::to_string(r + 1), static_cast<uint64_t>(r + 1));
    }
    if (progress) progress->on_stage_end();

    rep.copy_seconds = spread_of(copies);
    const double in_mb = static_cast<double>(rep.input_bytes) / 1e6;
    rep.copy_mb_per_s = rep.copy_seconds.median > 0 ? in_mb / rep.copy_seconds.median : 0;
    for (size_t m = 0; m < opt.methods.size(); ++m) {
        MethodBench b;
        b.method = opt.methods[m];
        b.seconds = spread_of(per[m].seconds);
        for (size_t s = 0; s < kStageCount; ++s)
            b.stages[s] = spread_of(per[m].stages[s]);
        if (b.seconds.median > 0) {
            b.input_mb_per_s = in_mb / b.seconds.median;
            b.weights_per_s = static_cast<double>(rep.weights) / b.seconds.median;
        }
        b.peak_rss_bytes = per[m].peak;
        b.output_bytes = per[m].output_bytes;
        if (rep.copy_seconds.median > 0)
            b.ratio_to_copy = b.seconds.median / rep.copy_seconds.median;
        rep.methods.push_back(std::move(b));
    }
    return rep;
}

}  // namespace sutra::pipeline
