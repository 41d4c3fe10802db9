#include "sutra/tokenize/hf_tokenizer.hpp"

#include <algorithm>

#include "sutra/io/strict_json.hpp"
#include "sutra/tokenize/unicode.hpp"

namespace sutra::tokenize {
namespace {

using nlohmann::json;

// Sequences of components nest a few levels; the JSON around them adds some more.
constexpr int kMaxJsonDepth = 64;

// The component `key` of the document, or nullptr when absent or null.
Result<const json*> component(const json& doc, const char* key, const std::string& what) {
    const auto it = doc.find(key);
    if (it == doc.end() || it->is_null()) return static_cast<const json*>(nullptr);
    if (!it->is_object())
        return make_error(Errc::bad_format, what + ": " + key + ": must be an object or null");
    return &*it;
}

}  // namespace

std::vector<int32_t> HfTokenizer::encode(std::string_view text, bool add_special) const {
    std::vector<Piece> pieces;
    pieces.push_back(
        Piece{is_valid_utf8(text) ? std::string(text) : to_valid_utf8(text), -1, true});
    added_.split_raw(pieces);
    if (normalizer_) {
        for (Piece& p : pieces)
            if (p.id < 0) normalizer_->normalize(p.text);
    }
    added_.split_normalized(pieces);
    if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(pieces);
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    for (const Piece& p : pieces) {
        if (p.id >= 0)
            ids.push_back(p.id);
        else if (!p.text.empty())
            model_->tokenize(p.text, ids);
    }
    if (post_processor_) post_processor_->process(ids, add_special);
    return ids;
}

std::vector<std::string> HfTokenizer::id_tokens(std::span<const int32_t> ids) const {
    std::vector<std::string> out;
    out.reserve(ids.size());
    for (int32_t id : ids) {
        const std::string* t = added_.id_to_token(id);
        if (!t) t = model_->id_to_token(id);
        out.push_back(t ? *t : std::string());
    }
    return out;
}

std::string HfTokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
        const std::string* t = added_.id_to_token(id);
        if (!t) t = model_->id_to_token(id);
        if (!t || (skip_special && added_.is_special(*t))) continue;
        tokens.push_back(*t);
    }
    std::string text;
    if (decoder_) {
        decoder_->decode_chain(tokens);
        for (const std::string& t : tokens)
            text += t;
    } else {
        for (std::size_t k = 0; k < tokens.size(); ++k) {
            if (k) text += ' ';
            text += tokens[k];
        }
    }
    return text;
}

int32_t HfTokenizer::token_to_id(std::string_view token) const {
    const int32_t id = added_.token_to_id(token);
    return id >= 0 ? id : model_->token_to_id(token);
}

std::string HfTokenizer::describe() const {
    return name_ + " (" + model_->kind() + ", " + std::to_string(vocab_size_) + " tokens)";
}

Result<std::unique_ptr<HfTokenizer>> parse_hf_tokenizer(std::string_view json_text,
                                                        const std::string& what) {
    SUTRA_ASSIGN(json doc,
                 io::parse_strict_json(
                     json_text, what, io::StrictJsonLimits{kMaxJsonDepth, kMaxTokenizerJsonBytes}));
    if (!doc.is_object())
        return make_error(Errc::bad_format, what + ": must be a JSON object (a tokenizer.json)");
    if (const auto v = doc.find("version"); v != doc.end() && !v->is_null()) {
        if (!v->is_string())
            return make_error(Errc::bad_format, what + ": version: must be a string");
        if (v->get_ref<const std::string&>() != "1.0")
            return make_error(Errc::unsupported, what + ": version \"" +
                                                     v->get_ref<const std::string&>() +
                                                     "\" is not supported (supported: 1.0)");
    }
    std::unique_ptr<HfTokenizer> t(new HfTokenizer());
    const std::string prefix = what + ": ";
    const auto model = doc.find("model");
    if (model == doc.end() || !model->is_object())
        return make_error(Errc::bad_format,
                          prefix + "model: is missing (an object with a \"type\")");
    SUTRA_ASSIGN(t->model_, make_model(*model, prefix + "model"));
    SUTRA_ASSIGN(const json* norm, component(doc, "normalizer", what));
    if (norm) {
        SUTRA_ASSIGN(t->normalizer_, make_normalizer(*norm, prefix + "normalizer"));
    }
    SUTRA_ASSIGN(const json* pre, component(doc, "pre_tokenizer", what));
    if (pre) {
        SUTRA_ASSIGN(t->pre_tokenizer_, make_pre_tokenizer(*pre, prefix + "pre_tokenizer"));
    }
    SUTRA_ASSIGN(const json* post, component(doc, "post_processor", what));
    if (post) {
        SUTRA_ASSIGN(t->post_processor_, make_post_processor(*post, prefix + "post_processor"));
    }
    SUTRA_ASSIGN(const json* dec, component(doc, "decoder", what));
    if (dec) {
        SUTRA_ASSIGN(t->decoder_, make_decoder(*dec, prefix + "decoder"));
    }

    const auto added_it = doc.find("added_tokens");
    const json* added = added_it == doc.end() ? nullptr : &*added_it;
    auto vocab =
        AddedVocabulary::parse(added, *t->model_, t->normalizer_.get(), prefix + "added_tokens");
    if (!vocab.ok()) return vocab.take_error();
    t->added_ = std::move(vocab).value();
    t->vocab_size_ = std::max(t->model_->vocab_size(), t->added_.id_limit());
    if (t->vocab_size_ == 0)
        return make_error(Errc::bad_format, prefix + "model: the vocabulary is empty");
    if (t->post_processor_) {
        std::vector<int32_t> specials;
        t->post_processor_->process(specials, true);
        for (int32_t id : specials)
            if (id >= t->vocab_size_)
                return make_error(Errc::bad_format, prefix + "post_processor: adds id " +
                                                        std::to_string(id) +
                                                        ", past the vocabulary (" +
                                                        std::to_string(t->vocab_size_) + " ids)");
        t->leading_ = t->post_processor_->leading_ids();
    }
    t->name_ = std::filesystem::path(what).filename().string();
    if (t->name_.empty()) t->name_ = what;
    return t;
}

Result<std::unique_ptr<HfTokenizer>> load_hf_tokenizer(const std::filesystem::path& path) {
    SUTRA_ASSIGN(std::string text,
                 io::read_small_file(path.string(),
                                     io::StrictJsonLimits{kMaxJsonDepth, kMaxTokenizerJsonBytes}));
    return parse_hf_tokenizer(text, path.string());
}

}  // namespace sutra::tokenize
