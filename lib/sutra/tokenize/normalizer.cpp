// The normalizers of tokenizer.json, as the Hugging Face `tokenizers` crate (0.23) applies
// them to the text of one piece (tokenizers/src/normalizers/*.rs). Offsets are not tracked:
// only the normalized text matters for the ids.
#include <utility>

#include "sutra/tokenize/byte_level.hpp"
#include "sutra/tokenize/json_fields.hpp"
#include "sutra/tokenize/pipeline.hpp"
#include "sutra/tokenize/precompiled.hpp"
#include "sutra/tokenize/regex.hpp"
#include "sutra/tokenize/unicode.hpp"

namespace sutra::tokenize {

namespace {

using nlohmann::json;

constexpr const char* kSupportedNormalizers =
    "BertNormalizer, ByteLevel, Lowercase, NFC, NFD, NFKC, NFKD, Nmt, Precompiled, Prepend, "
    "Replace, Sequence, Strip, StripAccents";

// A base64 charsmap of a real SentencePiece model is a few hundred kilobytes.
constexpr std::size_t kMaxCharsmapChars = 64u << 20;

// Applies `f` to every code point; `f(cp, out)` appends what replaces it.
template <class F>
std::string map_code_points(std::string_view text, F&& f) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const char32_t cp = next_code_point(text, i);
        f(cp, out);
    }
    return out;
}

class UnicodeNormalizer final : public Normalizer {
  public:
    explicit UnicodeNormalizer(NormalForm form) : form_(form) {}
    void normalize(std::string& text) const override { text = normalize_unicode(text, form_); }

  private:
    NormalForm form_;
};

class LowercaseNormalizer final : public Normalizer {
  public:
    void normalize(std::string& text) const override { text = to_lower(text); }
};

// Removes leading and/or trailing code points that are White_Space.
class StripNormalizer final : public Normalizer {
  public:
    StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
    void normalize(std::string& text) const override {
        std::size_t begin = 0, end = text.size();
        if (left_) {
            while (begin < end) {
                std::size_t i = begin;
                if (!is_whitespace(next_code_point(text, i))) break;
                begin = i;
            }
        }
        if (right_) {
            while (end > begin) {
                std::size_t start = end - 1;
                while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80)
                    --start;
                std::size_t i = start;
                if (!is_whitespace(next_code_point(text, i))) break;
                end = start;
            }
        }
        text = text.substr(begin, end - begin);
    }

  private:
    bool left_, right_;
};

// Drops every combining mark (general category M).
class StripAccentsNormalizer final : public Normalizer {
  public:
    void normalize(std::string& text) const override {
        text = map_code_points(text, [](char32_t cp, std::string& out) {
            if (!is_combining_mark(cp)) append_utf8(out, cp);
        });
    }
};

class PrependNormalizer final : public Normalizer {
  public:
    explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
    void normalize(std::string& text) const override {
        if (!text.empty()) text.insert(0, prefix_);
    }

  private:
    std::string prefix_;
};

// Replaces every match of the pattern (find_iter order, empty matches included) by content.
class ReplaceNormalizer final : public Normalizer {
  public:
    ReplaceNormalizer(Regex re, std::string content)
        : re_(std::move(re)), content_(std::move(content)) {}
    void normalize(std::string& text) const override {
        const std::vector<Match> matches = re_.find_all(text);
        if (matches.empty()) return;
        std::string out;
        out.reserve(text.size());
        std::size_t prev = 0;
        for (const Match& m : matches) {
            out.append(text, prev, m.begin - prev);
            out += content_;
            prev = m.end;
        }
        out.append(text, prev, std::string::npos);
        text = std::move(out);
    }

  private:
    Regex re_;
    std::string content_;
};

class PrecompiledNormalizer final : public Normalizer {
  public:
    explicit PrecompiledNormalizer(PrecompiledCharsMap map) : map_(std::move(map)) {}
    void normalize(std::string& text) const override { text = map_.normalize(text); }

  private:
    PrecompiledCharsMap map_;
};

// Every byte spelled with its GPT-2 byte-level character.
class ByteLevelNormalizer final : public Normalizer {
  public:
    void normalize(std::string& text) const override { text = byte_level_encode(text); }
};

// The Nmt normalizer: drops some control characters, turns others into spaces.
class NmtNormalizer final : public Normalizer {
  public:
    void normalize(std::string& text) const override {
        text = map_code_points(text, [](char32_t c, std::string& out) {
            if ((c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
                c == 0x8F || c == 0x9F)
                return;
            const bool space = c == 0x09 || c == 0x0A || c == 0x0C || c == 0x0D || c == 0x1680 ||
                               (c >= 0x200B && c <= 0x200F) || c == 0x2028 || c == 0x2029 ||
                               c == 0x2581 || c == 0xFEFF || c == 0xFFFD;
            append_utf8(out, space ? U' ' : c);
        });
    }
};

bool is_chinese_char(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

class BertNormalizer final : public Normalizer {
  public:
    BertNormalizer(bool clean_text, bool chinese, bool strip_accents, bool lowercase)
        : clean_text_(clean_text),
          chinese_(chinese),
          strip_accents_(strip_accents),
          lowercase_(lowercase) {}

    void normalize(std::string& text) const override {
        if (clean_text_) {
            text = map_code_points(text, [](char32_t c, std::string& out) {
                const bool tab_or_newline = c == '\t' || c == '\n' || c == '\r';
                if (c == 0 || c == 0xFFFD || (!tab_or_newline && is_other(c))) return;
                append_utf8(out, tab_or_newline || is_whitespace(c) ? U' ' : c);
            });
        }
        if (chinese_) {
            text = map_code_points(text, [](char32_t c, std::string& out) {
                if (is_chinese_char(c)) {
                    out.push_back(' ');
                    append_utf8(out, c);
                    out.push_back(' ');
                } else {
                    append_utf8(out, c);
                }
            });
        }
        if (strip_accents_) {
            text = map_code_points(normalize_unicode(text, NormalForm::nfd),
                                   [](char32_t c, std::string& out) {
                                       if (!is_mark_nonspacing(c)) append_utf8(out, c);
                                   });
        }
        if (lowercase_) text = to_lower(text);
    }

  private:
    bool clean_text_, chinese_, strip_accents_, lowercase_;
};

class SequenceNormalizer final : public Normalizer {
  public:
    explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
        : parts_(std::move(parts)) {}
    void normalize(std::string& text) const override {
        for (const auto& p : parts_)
            p->normalize(text);
    }

  private:
    std::vector<std::unique_ptr<Normalizer>> parts_;
};

Result<std::unique_ptr<Normalizer>> make_normalizer_at(const json& j, const std::string& what,
                                                       int depth);

Result<std::unique_ptr<Normalizer>> make_replace(const json& j, const std::string& what) {
    SUTRA_ASSIGN(auto re, read_pattern(j, what));
    SUTRA_ASSIGN(std::string content, get_string(j, "content", what));
    return std::unique_ptr<Normalizer>(
        std::make_unique<ReplaceNormalizer>(std::move(re), std::move(content)));
}

Result<std::unique_ptr<Normalizer>> make_precompiled(const json& j, const std::string& what) {
    SUTRA_ASSIGN(std::string b64, get_string(j, "precompiled_charsmap", what));
    if (b64.size() > kMaxCharsmapChars)
        return make_error(Errc::too_large, what + ": precompiled_charsmap has " +
                                               std::to_string(b64.size()) +
                                               " characters; at most " +
                                               std::to_string(kMaxCharsmapChars) + " are accepted");
    SUTRA_ASSIGN(auto blob, decode_base64(b64, what + ".precompiled_charsmap"));
    SUTRA_ASSIGN(auto map, PrecompiledCharsMap::parse(blob, what));
    return std::unique_ptr<Normalizer>(std::make_unique<PrecompiledNormalizer>(std::move(map)));
}

Result<std::unique_ptr<Normalizer>> make_bert(const json& j, const std::string& what) {
    SUTRA_ASSIGN(bool clean_text, get_bool(j, "clean_text", true, what));
    SUTRA_ASSIGN(bool chinese, get_bool(j, "handle_chinese_chars", true, what));
    SUTRA_ASSIGN(bool lowercase, get_bool(j, "lowercase", true, what));
    bool strip_accents = lowercase;  // strip_accents: null means "as lowercase"
    if (j.contains("strip_accents") && !j["strip_accents"].is_null()) {
        SUTRA_ASSIGN(strip_accents, get_bool(j, "strip_accents", lowercase, what));
    }
    return std::unique_ptr<Normalizer>(
        std::make_unique<BertNormalizer>(clean_text, chinese, strip_accents, lowercase));
}

Result<std::unique_ptr<Normalizer>> make_normalizer_sequence(const json& j, const std::string& what,
                                                             int depth) {
    if (!j.contains("normalizers") || !j["normalizers"].is_array())
        return make_error(Errc::bad_format,
                          what + ": a Sequence normalizer needs an array \"normalizers\"");
    std::vector<std::unique_ptr<Normalizer>> parts;
    const json& list = j["normalizers"];
    for (std::size_t k = 0; k < list.size(); ++k) {
        SUTRA_ASSIGN(auto part,
                     make_normalizer_at(list[k], what + ".normalizers[" + std::to_string(k) + "]",
                                        depth + 1));
        parts.push_back(std::move(part));
    }
    return std::unique_ptr<Normalizer>(std::make_unique<SequenceNormalizer>(std::move(parts)));
}

Result<std::unique_ptr<Normalizer>> make_normalizer_at(const json& j, const std::string& what,
                                                       int depth) {
    if (depth > kMaxComponentDepth)
        return make_error(Errc::too_large, what + ": Sequence normalizers nested deeper than " +
                                               std::to_string(kMaxComponentDepth));
    SUTRA_ASSIGN(std::string type, get_type(j, what));
    if (type == "NFC") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::nfc));
    if (type == "NFD") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::nfd));
    if (type == "NFKC") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::nfkc));
    if (type == "NFKD") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::nfkd));
    if (type == "Lowercase") return std::unique_ptr<Normalizer>(new LowercaseNormalizer());
    if (type == "StripAccents") return std::unique_ptr<Normalizer>(new StripAccentsNormalizer());
    if (type == "Nmt") return std::unique_ptr<Normalizer>(new NmtNormalizer());
    if (type == "ByteLevel") return std::unique_ptr<Normalizer>(new ByteLevelNormalizer());
    if (type == "Strip") {
        SUTRA_ASSIGN(bool left, get_bool(j, "strip_left", true, what));
        SUTRA_ASSIGN(bool right, get_bool(j, "strip_right", true, what));
        return std::unique_ptr<Normalizer>(new StripNormalizer(left, right));
    }
    if (type == "Prepend") {
        SUTRA_ASSIGN(std::string prefix, get_string(j, "prepend", what));
        return std::unique_ptr<Normalizer>(new PrependNormalizer(std::move(prefix)));
    }
    if (type == "Replace") return make_replace(j, what);
    if (type == "Precompiled") return make_precompiled(j, what);
    if (type == "BertNormalizer") return make_bert(j, what);
    if (type == "Sequence") return make_normalizer_sequence(j, what, depth);
    return make_error(Errc::unsupported,
                      what + ": normalizer type \"" + type +
                          "\" is not supported (supported: " + kSupportedNormalizers + ")");
}

}  // namespace

Result<std::unique_ptr<Normalizer>> make_normalizer(const nlohmann::json& j,
                                                    const std::string& what) {
    return make_normalizer_at(j, what, 0);
}

}  // namespace sutra::tokenize
