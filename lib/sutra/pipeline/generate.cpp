#include "sutra/pipeline/generate.hpp"

#include "sutra/base/memory.hpp"
#include "sutra/model/model_source.hpp"
#include "sutra/model/text_tokens.hpp"
#include "sutra/model/tokenizer.hpp"

namespace sutra::pipeline {
namespace {

// Bytes of `s` up to the last complete UTF-8 character.
size_t complete_utf8_prefix(std::string_view s) {
    size_t end = s.size();
    // Look back at most 3 bytes for the start of an unfinished character.
    for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
        const auto c = static_cast<unsigned char>(s[s.size() - back]);
        if ((c & 0xC0) == 0x80) continue;  // continuation byte
        const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (need > back) end = s.size() - back;
        break;
    }
    return end;
}

}  // namespace

Result<GenerateReport> run_generate(const GenerateOptions& opt, const TextSink& on_text) {
    if (opt.prompt.has_value() == opt.tokens_file.has_value())
        return make_error(Errc::invalid_argument,
                          "give the prompt as --prompt TEXT or --tokens-file IDS (one of them)");
    SUTRA_ASSIGN(model::ModelSource src, model::open_model(opt.model, opt.model_dir));
    model::ModelOptions mo;
    // Every generated token runs every block: the weights are kept once loaded (a .qbin's are
    // dequantized once, to f32, as they are loaded).
    mo.keep_weights = true;
    SUTRA_ASSIGN(std::unique_ptr<model::Model> m, model::open_runtime(src, mo));
    const model::ModelInfo& info = m->info();

    GenerateReport rep;
    rep.model = opt.model.string();
    rep.family = info.family + " " + info.variant;
    std::optional<model::ModelTokenizer> tok;
    if (opt.prompt) {
        SUTRA_ASSIGN(model::ModelTokenizer t,
                     model::open_model_tokenizer(src.dir, opt.tokenizer, info));
        tok = std::move(t);
        rep.tokenizer = tok->loaded.tokenizer->describe();
        // The tokenizer's own special tokens (a BOS for Llama-style tokenizers), as the
        // reference's tokenizer(prompt) gives them.
        rep.prompt_ids = tok->loaded.tokenizer->encode(*opt.prompt, true);
    } else {
        SUTRA_ASSIGN(rep.prompt_ids, model::read_token_ids_file(*opt.tokens_file, info.vocab_size));
        auto t = model::open_model_tokenizer(src.dir, opt.tokenizer, info);
        if (t) {
            tok = std::move(*t);
            rep.tokenizer = tok->loaded.tokenizer->describe();
        }
    }
    model::GenerateOptions go = opt.generate;
    std::vector<int32_t> generated;
    size_t emitted = 0;
    std::string text;
    auto on_token = [&](int32_t id) {
        generated.push_back(id);
        if (tok && on_text) {
            text = tok->loaded.tokenizer->decode(generated, true);
            const size_t stable = complete_utf8_prefix(text);
            if (stable > emitted && text.compare(0, emitted, text, 0, emitted) == 0) {
                on_text(std::string_view(text).substr(emitted, stable - emitted));
                emitted = stable;
            }
        }
        return true;
    };
    SUTRA_ASSIGN(model::GenerateResult r, model::generate(*m, rep.prompt_ids, go, on_token));
    rep.ids = r.ids;
    rep.stopped_at_eos = r.stopped_at_eos;
    if (tok) {
        rep.text = tok->loaded.tokenizer->decode(rep.ids, true);
        if (on_text && rep.text.size() > emitted)
            on_text(std::string_view(rep.text).substr(emitted));
    }
    rep.prompt_seconds = r.prompt_seconds;
    rep.generate_seconds = r.generate_seconds;
    rep.prompt_tokens_per_s = r.prompt_tokens_per_second();
    rep.tokens_per_s = r.generate_tokens_per_second();
    rep.peak_rss_bytes = peak_rss_bytes();
    return rep;
}

}  // namespace sutra::pipeline
