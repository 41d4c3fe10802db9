// sutra validate MODEL.qbin [--against ORIGINAL] [--max-mse X] [--max-rel-error X]
// [--min-correlation X] [--text FILE | --tokens-file IDS] [--seq-len L] [--max-tokens N]
// [--max-ppl-increase X] [--max-kl X] [--json]
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "sutra/pipeline/validate.hpp"

namespace sutra::app {

Runner add_validate(CLI::App& app, const GlobalOptions& g) {
    struct Args {
        std::string qbin, against, text, tokens_file, tokenizer, activations;
        double max_mse = -1, max_rel = -1, min_corr = -2, max_ppl = 0, max_kl = 0;
        CLI::Option* max_ppl_opt = nullptr;
        CLI::Option* max_kl_opt = nullptr;
        int64_t seq_len = 256, max_tokens = 0;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    app.add_option("qbin", a->qbin, "The .qbin file")->required();
    app.add_option("--against", a->against,
                   "The original checkpoint, to measure the error per tensor");
    app.add_option("--max-mse", a->max_mse,
                   "Fail (exit 1) when a tensor's mean squared error exceeds this");
    app.add_option(
        "--max-rel-error", a->max_rel,
        "Fail when a tensor's relative error ||W - W'|| / ||W|| exceeds this (e.g. 0.1)");
    app.add_option("--min-correlation", a->min_corr,
                   "Fail when a tensor's correlation with the original is below this");
    app.add_option("--text", a->text,
                   "Also measure quality end to end on this text (tokenized with the original's "
                   "tokenizer): perplexity of both models, KL divergence, top-1 agreement");
    app.add_option("--tokens-file", a->tokens_file,
                   "File of whitespace-separated token ids (instead of --text)");
    app.add_option("--tokenizer", a->tokenizer,
                   "Tokenizer file or folder for --text (default: the original folder's)");
    app.add_option("--seq-len", a->seq_len, "Window length for --text, BOS included (default 256)");
    app.add_option("--max-tokens", a->max_tokens,
                   "Score only the first N text tokens (default 0: all)");
    a->max_ppl_opt =
        app.add_option("--max-ppl-increase", a->max_ppl,
                       "Fail when the perplexity rises by more than this fraction of the "
                       "original's (0.05 = 5%)");
    a->max_kl_opt =
        app.add_option("--max-kl", a->max_kl,
                       "Fail when the mean KL divergence of the .qbin from the original exceeds "
                       "this (nats per token)");
    add_activations_flag(app, a->activations);
    app.add_flag("--json", a->json, "Print the result as JSON on stdout");
    return [a, &g]() -> int {
        apply_product_options(g, a->activations);
        pipeline::ValidateOptions opt;
        opt.qbin = a->qbin;
        if (!a->against.empty()) opt.against = a->against;
        const bool thresholds = a->max_mse >= 0 || a->max_rel >= 0 || a->min_corr > -2;
        if (thresholds && a->against.empty())
            return fail(
                make_error(Errc::invalid_argument, "error thresholds need --against ORIGINAL"));
        if (a->max_mse >= 0) opt.thresholds.max_mse = a->max_mse;
        if (a->max_rel >= 0) opt.thresholds.max_rel_error = a->max_rel;
        if (a->min_corr > -2) opt.thresholds.min_correlation = a->min_corr;
        if (a->max_ppl_opt->count() > 0) opt.thresholds.max_ppl_increase = a->max_ppl;
        if (a->max_kl_opt->count() > 0) opt.thresholds.max_kl = a->max_kl;
        if (!a->text.empty()) opt.text = a->text;
        if (!a->tokenizer.empty()) opt.tokenizer = a->tokenizer;
        if (!a->tokens_file.empty()) opt.tokens = a->tokens_file;
        opt.seq_len = a->seq_len;
        opt.max_tokens = a->max_tokens;
        auto progress = make_progress(g);
        auto r = pipeline::run_validate(opt, progress.get());
        if (!r) return fail(r.error());
        if (a->json) {
            nlohmann::ordered_json j;
            j["schema"] = "sutra.validate/1";
            j["file"] = r->file;
            j["passed"] = r->passed;
            j["structure_ok"] = r->structure_ok;
            if (!r->structure_ok) j["structure_error"] = r->structure_error;
            j["stored_tensors"] = r->stored_tensors;
            j["damaged"] = r->damaged;
            if (r->compared) {
                j["mismatches"] = r->mismatches;
                j["transformed"] = r->transformed;
                auto& ts = j["tensors"] = nlohmann::ordered_json::array();
                for (const auto& t : r->tensors) {
                    nlohmann::ordered_json o;
                    o["name"] = t.name;
                    o["encoding"] = t.encoding;
                    o["mse"] = t.stats.mse();
                    o["rel_error"] = t.stats.rel_error();
                    o["max_abs_error"] = t.stats.max_abs_err;
                    o["correlation"] = t.stats.correlation();
                    o["snr_db"] = t.stats.snr_db();
                    o["failures"] = t.failures;
                    ts.push_back(std::move(o));
                }
            }
            if (r->quality) {
                const auto& q = *r->quality;
                nlohmann::ordered_json o;
                o["source"] = q.source;
                o["seq_len"] = q.seq_len;
                o["tokens"] = q.tokens;
                o["windows"] = q.windows;
                o["original_perplexity"] = q.original_perplexity;
                o["quantized_perplexity"] = q.quantized_perplexity;
                o["perplexity_increase"] = q.perplexity_increase;
                o["perplexity_increase_relative"] = q.perplexity_increase_relative;
                o["mean_kl"] = q.mean_kl;
                o["top1_agreement"] = q.top1_agreement;
                auto& th = o["thresholds"] = nlohmann::ordered_json::object();
                if (opt.thresholds.max_ppl_increase)
                    th["max_ppl_increase"] = *opt.thresholds.max_ppl_increase;
                if (opt.thresholds.max_kl) th["max_kl"] = *opt.thresholds.max_kl;
                o["failures"] = q.failures;
                j["quality"] = std::move(o);
            }
            std::printf("%s\n", j.dump(2).c_str());
        } else {
            if (!r->structure_ok) {
                std::printf("FAIL %s: %s\n", r->file.c_str(), r->structure_error.c_str());
                return kExitCheckFailed;
            }
            std::printf("structure ok, header checksum ok, %llu stored tensors\n",
                        static_cast<unsigned long long>(r->stored_tensors));
            for (const auto& d : r->damaged)
                std::printf("DAMAGED %s\n", d.c_str());
            if (r->damaged.empty()) std::printf("all data checksums ok\n");
            if (r->compared) {
                std::printf("%-52s %-5s %11s %9s %9s %8s\n", "tensor", "enc", "mse", "rel_err",
                            "corr", "snr_db");
                for (const auto& t : r->tensors) {
                    std::printf("%-52s %-5s %11.4e %9.5f %9.6f %8.2f%s\n", t.name.c_str(),
                                t.encoding.c_str(), t.stats.mse(), t.stats.rel_error(),
                                t.stats.correlation(), t.stats.snr_db(),
                                t.failures.empty() ? "" : "  FAIL");
                    for (const auto& f : t.failures)
                        std::printf("    %s\n", f.c_str());
                }
                for (const auto& m : r->mismatches)
                    std::printf("MISMATCH %s\n", m.c_str());
                if (!r->transformed.empty())
                    std::printf(
                        "%zu tensors carry folded AWQ/salience scales and are compared as a model "
                        "only "
                        "(use --text)\n",
                        r->transformed.size());
            }
            if (r->quality) {
                const auto& q = *r->quality;
                std::printf("quality on %s: %lld tokens in %lld windows of %lld\n",
                            q.source.c_str(), static_cast<long long>(q.tokens),
                            static_cast<long long>(q.windows), static_cast<long long>(q.seq_len));
                std::printf("  perplexity  original %s  quantized %s  increase %+.4f (%+.2f%%)\n",
                            fixed(q.original_perplexity, 4).c_str(),
                            fixed(q.quantized_perplexity, 4).c_str(), q.perplexity_increase,
                            100.0 * q.perplexity_increase_relative);
                std::printf("  mean KL     %s nats/token\n", fixed(q.mean_kl, 5).c_str());
                std::printf("  top-1       %s%% agreement\n",
                            fixed(100.0 * q.top1_agreement, 2).c_str());
                for (const auto& f : q.failures)
                    std::printf("  FAIL %s\n", f.c_str());
            }
            std::printf("%s\n", r->passed ? "PASS" : "FAIL");
        }
        return r->passed ? kExitOk : kExitCheckFailed;
    };
}

}  // namespace sutra::app
