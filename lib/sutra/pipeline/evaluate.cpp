#include "sutra/pipeline/evaluate.hpp"

#include <chrono>

#include "sutra/model/evaluate.hpp"
#include "sutra/model/model_source.hpp"
#include "sutra/model/text_tokens.hpp"

namespace sutra::pipeline {

Result<EvalReport> run_eval(const EvalOptions& opt, ProgressObserver* progress) {
    const auto t0 = std::chrono::steady_clock::now();
    if (opt.seq_len < 2) return make_error(Errc::invalid_argument, "--seq-len must be at least 2");
    SUTRA_ASSIGN(model::ModelSource src, model::open_model(opt.model, opt.model_dir));
    model::TextInput in;
    if (opt.text) in.texts.push_back(*opt.text);
    in.tokens_file = opt.tokens;
    in.tokenizer = opt.tokenizer;
    SUTRA_ASSIGN(std::unique_ptr<model::Model> m, model::open_runtime(src));
    SUTRA_ASSIGN(model::TextTokens text, model::load_eval_tokens(src.dir, m->info(), in));
    const std::vector<int32_t>& tokens = text.tokens;
    model::EvalOptions eo;
    eo.seq_len = opt.seq_len;
    eo.max_tokens = opt.max_tokens;
    if (text.window_start >= 0) eo.bos_id = text.window_start;
    if (progress) {
        progress->on_stage("eval", static_cast<uint64_t>(tokens.size()));
        eo.progress = [progress](int64_t done, int64_t) {
            progress->on_progress("tokens", static_cast<uint64_t>(done));
            return true;
        };
    }
    SUTRA_ASSIGN(model::PerplexityResult r, model::evaluate_perplexity(*m, tokens, eo));
    if (progress) progress->on_stage_end();
    EvalReport rep;
    rep.model = opt.model.string();
    rep.perplexity = r.perplexity;
    rep.mean_nll = r.mean_nll;
    rep.tokens = r.tokens;
    rep.windows = r.windows;
    rep.tokenizer = text.tokenizer;
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return rep;
}

}  // namespace sutra::pipeline
