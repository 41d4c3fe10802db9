#include "sutra/pipeline/generate.hpp"

#include <algorithm>

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

// Bytes of `s` that later tokens cannot change: its complete UTF-8 characters, less a
// trailing U+FFFD (a decoder's stand-in for a character whose bytes are still coming).
size_t stable_prefix(std::string_view s) {
    size_t end = complete_utf8_prefix(s);
    while (end >= 3 && s.substr(end - 3, 3) == "\xEF\xBF\xBD")
        end -= 3;
    return end;
}

// The text of `generated` as it reads after the prompt: decode(context + generated) less
// decode(context), the context being the prompt's last few ids. Decoders treat the first
// token of a sequence on its own (llama2.c drops a piece's leading space only after BOS,
// SentencePiece and Metaspace drop the first one's always), so the generated ids alone
// would lose or gain a space where the reference's output has none. Falls back to the
// generated ids alone when the context's text is not a prefix (a character split between the
// prompt and the first generated token).
std::string continuation_text(const tokenize::Tokenizer& tok, std::span<const int32_t> prompt,
                              std::span<const int32_t> generated) {
    constexpr size_t kContext = 8;
    const auto context = prompt.subspan(prompt.size() - std::min(prompt.size(), kContext));
    std::vector<int32_t> all(context.begin(), context.end());
    all.insert(all.end(), generated.begin(), generated.end());
    const std::string head = tok.decode(context, true);
    std::string text = tok.decode(all, true);
    if (text.compare(0, head.size(), head) == 0) return text.substr(head.size());
    return tok.decode(generated, true);
}

}  // namespace

Result<GenerateReport> run_generate(const GenerateOptions& opt, const TextSink& on_text) {
    if (opt.prompt.has_value() == opt.tokens_file.has_value())
        return make_error(Errc::invalid_argument,
                          "give the prompt as --prompt TEXT or --tokens-file IDS (one of them)");
    // Bad flags are reported before a large model is loaded.
    SUTRA_TRY(model::validate_sampler_options(opt.generate.sampler));
    if (opt.generate.max_tokens < 0)
        return make_error(Errc::invalid_argument,
                          "--max-tokens " + std::to_string(opt.generate.max_tokens) +
                              ": must be >= 0 (the number of tokens to generate)");
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
        // The text is optional here: a model folder without a tokenizer gives ids only, but
        // a --tokenizer that cannot be read is an error, as with --prompt.
        auto t = model::open_model_tokenizer(src.dir, opt.tokenizer, info);
        if (!t && opt.tokenizer) return t.take_error();
        if (t) {
            tok = std::move(*t);
            rep.tokenizer = tok->loaded.tokenizer->describe();
        }
    }
    model::GenerateOptions go = opt.generate;
    // The BOS model::generate runs in place of an empty prompt is the decoding context too.
    std::vector<int32_t> context = rep.prompt_ids;
    if (context.empty() && info.bos_id >= 0) context.push_back(info.bos_id);
    std::vector<int32_t> generated;
    std::string sent;  // the text handed to on_text so far
    // Hands on the part of `text` past `sent`, up to `end`, if `text` still begins with it.
    auto send = [&](const std::string& text, size_t end) {
        if (end <= sent.size() || text.compare(0, sent.size(), sent) != 0) return;
        on_text(std::string_view(text).substr(sent.size(), end - sent.size()));
        sent.assign(text, 0, end);
    };
    // A stopping EOS ends the text without being part of it: a tokenizer that does not mark it
    // special (raw bytes: id 0 is the byte 0) would otherwise print it.
    auto is_eos = [&](int32_t id) {
        return std::find(info.eos_ids.begin(), info.eos_ids.end(), id) != info.eos_ids.end();
    };
    auto on_token = [&](int32_t id) {
        if (is_eos(id)) return true;  // the last id: generate stops after it
        generated.push_back(id);
        if (tok && on_text) {
            const std::string text = continuation_text(*tok->loaded.tokenizer, context, generated);
            send(text, stable_prefix(text));
        }
        return true;
    };
    SUTRA_ASSIGN(model::GenerateResult r, model::generate(*m, rep.prompt_ids, go, on_token));
    rep.ids = r.ids;
    rep.stopped_at_eos = r.stopped_at_eos;
    if (tok) {
        std::span<const int32_t> text_ids = rep.ids;
        if (rep.stopped_at_eos) text_ids = text_ids.first(text_ids.size() - 1);
        rep.text = continuation_text(*tok->loaded.tokenizer, context, text_ids);
        if (on_text) send(rep.text, rep.text.size());
    }
    rep.prompt_seconds = r.prompt_seconds;
    rep.generate_seconds = r.generate_seconds;
    rep.prompt_tokens_per_s = r.prompt_tokens_per_second();
    rep.tokens_per_s = r.generate_tokens_per_second();
    rep.peak_rss_bytes = peak_rss_bytes();
    return rep;
}

}  // namespace sutra::pipeline
