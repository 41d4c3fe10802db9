#include "sutra/pipeline/bench_tokenizer.hpp"

#include <chrono>
#include <span>
#include <vector>

#include "sutra/base/memory.hpp"
#include "sutra/base/stopwatch.hpp"
#include "sutra/io/file.hpp"
#include "sutra/tokenize/discovery.hpp"

namespace sutra::pipeline {
namespace {

using clock_type = std::chrono::steady_clock;

Result<std::string> read_whole(const std::filesystem::path& path) {
    SUTRA_ASSIGN(io::InputFile f, io::InputFile::open(path));
    if (f.size() > kMaxBenchTextBytes)
        return make_error(Errc::too_large, path.string() + ": " + std::to_string(f.size()) +
                                               " bytes; the benchmark text is read whole and "
                                               "may hold at most 1 GiB: pass a smaller file");
    std::string text(f.size(), '\0');
    SUTRA_TRY(
        f.read_at(0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), text.size())));
    return text;
}

}  // namespace

Result<TokenizerBenchReport> run_tokenizer_bench(const TokenizerBenchOptions& opt) {
    if (opt.runs < 1) return make_error(Errc::invalid_argument, "--runs must be at least 1");
    if (opt.warmup < 0) return make_error(Errc::invalid_argument, "--warmup must be 0 or more");
    if (opt.text.empty())
        return make_error(Errc::invalid_argument,
                          "--tokenizer needs --text FILE: the text to encode");

    const auto t_load = clock_type::now();
    SUTRA_ASSIGN(tokenize::TokenizerFile file, tokenize::resolve_tokenizer_path(opt.tokenizer));
    SUTRA_ASSIGN(tokenize::LoadedTokenizer loaded, tokenize::load_tokenizer(file, 0));
    TokenizerBenchReport rep;
    rep.load_seconds = seconds_since(t_load);
    SUTRA_ASSIGN(std::string text, read_whole(opt.text));
    rep.tokenizer = loaded.tokenizer->describe();
    rep.file = file.path.string();
    rep.text = opt.text.string();
    rep.text_bytes = text.size();
    rep.runs = opt.runs;
    rep.warmup = opt.warmup;

    std::vector<double> secs;
    bool have_count = false;
    for (int i = 0; i < opt.warmup + opt.runs; ++i) {
        const auto t0 = clock_type::now();
        const std::vector<int32_t> ids = loaded.tokenizer->encode(text, true);
        const double s = seconds_since(t0);
        if (have_count && ids.size() != rep.tokens)
            return make_error(Errc::internal,
                              opt.text.string() + ": encode gave " + std::to_string(ids.size()) +
                                  " tokens in one run and " + std::to_string(rep.tokens) +
                                  " in another; encode must be deterministic");
        rep.tokens = ids.size();
        have_count = true;
        if (i >= opt.warmup) secs.push_back(s);
    }
    rep.seconds = spread_of(std::move(secs));
    if (rep.seconds.median > 0) {
        rep.mb_per_s = static_cast<double>(rep.text_bytes) / 1e6 / rep.seconds.median;
        rep.tokens_per_s = static_cast<double>(rep.tokens) / rep.seconds.median;
    }
    rep.peak_rss_bytes = peak_rss_bytes();
    return rep;
}

}  // namespace sutra::pipeline
