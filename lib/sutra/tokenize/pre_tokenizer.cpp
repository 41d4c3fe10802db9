// The pre-tokenizers of tokenizer.json, as the Hugging Face `tokenizers` crate (0.23) runs
// them (tokenizers/src/pre_tokenizers/*.rs over NormalizedString::split and the Pattern
// implementations of tokenizers/src/tokenizer/pattern.rs).
//
// Splitting works in two steps, as in the crate: a pattern cuts the text into contiguous
// spans, each flagged as a match or not (find_matches); a SplitDelimiterBehavior then decides
// which spans become pieces, merged how. Empty pieces are dropped.
#include <unicode/uscript.h>

#include <algorithm>
#include <utility>

#include "sutra/tokenize/byte_level.hpp"
#include "sutra/tokenize/json_fields.hpp"
#include "sutra/tokenize/pipeline.hpp"
#include "sutra/tokenize/regex.hpp"
#include "sutra/tokenize/unicode.hpp"

namespace sutra::tokenize {

namespace {

using nlohmann::json;

constexpr const char* kSupportedPreTokenizers =
    "BertPreTokenizer, ByteLevel, Digits, Metaspace, Punctuation, Sequence, Split, "
    "UnicodeScripts, Whitespace, WhitespaceSplit";

// GPT-2's word splitter, the crate's ByteLevel regex.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

enum class Behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

struct Span {
    std::size_t begin, end;
    bool match;
};

// find_matches of a regex (pattern.rs): the text covered by alternating non-match / match
// spans; empty text is one empty non-match span.
std::vector<Span> spans_of_matches(std::string_view text, const std::vector<Match>& matches) {
    if (text.empty()) return {Span{0, 0, false}};
    std::vector<Span> out;
    out.reserve(matches.size() * 2 + 1);
    std::size_t prev = 0;
    for (const Match& m : matches) {
        if (prev != m.begin) out.push_back(Span{prev, m.begin, false});
        out.push_back(Span{m.begin, m.end, true});
        prev = m.end;
    }
    if (prev != text.size()) out.push_back(Span{prev, text.size(), false});
    return out;
}

// find_matches of a character predicate: every matching code point is its own match span.
template <class Pred>
std::vector<Span> spans_of_chars(std::string_view text, Pred&& pred) {
    if (text.empty()) return {Span{0, 0, false}};
    std::vector<Span> out;
    std::size_t last_offset = 0, last_seen = 0, i = 0;
    while (i < text.size()) {
        const std::size_t b = i;
        const char32_t cp = next_code_point(text, i);
        last_seen = i;
        if (pred(cp)) {
            if (last_offset < b) out.push_back(Span{last_offset, b, false});
            out.push_back(Span{b, i, true});
            last_offset = i;
        }
    }
    if (last_seen > last_offset) out.push_back(Span{last_offset, last_seen, false});
    return out;
}

void invert(std::vector<Span>& spans) {
    for (Span& s : spans)
        s.match = !s.match;
}

// NormalizedString::split: the byte ranges that become pieces.
std::vector<std::pair<std::size_t, std::size_t>> apply_behavior(const std::vector<Span>& spans,
                                                                Behavior behavior) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    out.reserve(spans.size());
    switch (behavior) {
        case Behavior::isolated:
            for (const Span& s : spans)
                out.emplace_back(s.begin, s.end);
            break;
        case Behavior::removed:
            for (const Span& s : spans)
                if (!s.match) out.emplace_back(s.begin, s.end);
            break;
        case Behavior::contiguous: {
            bool previous_match = false;
            for (const Span& s : spans) {
                if (s.match == previous_match && !out.empty())
                    out.back().second = s.end;
                else
                    out.emplace_back(s.begin, s.end);
                previous_match = s.match;
            }
            break;
        }
        case Behavior::merged_with_previous: {
            bool previous_match = false;
            for (const Span& s : spans) {
                if (s.match && !previous_match && !out.empty())
                    out.back().second = s.end;
                else
                    out.emplace_back(s.begin, s.end);
                previous_match = s.match;
            }
            break;
        }
        case Behavior::merged_with_next: {
            bool previous_match = false;
            for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
                if (it->match && !previous_match && !out.empty())
                    out.back().first = it->begin;
                else
                    out.emplace_back(it->begin, it->end);
                previous_match = it->match;
            }
            std::reverse(out.begin(), out.end());
            break;
        }
    }
    return out;
}

// Appends the non-empty pieces that `ranges` cut from `text` (the text of `parent`).
void emit(const Piece& parent, const std::string& text,
          const std::vector<std::pair<std::size_t, std::size_t>>& ranges, std::vector<Piece>& out) {
    for (const auto& [b, e] : ranges) {
        if (e <= b) continue;
        Piece p;
        p.text = text.substr(b, e - b);
        p.first = parent.first && b == 0;
        out.push_back(std::move(p));
    }
}

// Runs `f(piece, out)` on every text piece, keeping added-token pieces in place.
template <class F>
void for_each_text_piece(std::vector<Piece>& pieces, F&& f) {
    std::vector<Piece> out;
    out.reserve(pieces.size() * 2);
    for (Piece& p : pieces) {
        if (p.id >= 0)
            out.push_back(std::move(p));
        else
            f(p, out);
    }
    pieces = std::move(out);
}

void split_with(std::vector<Piece>& pieces, const auto& find_spans, Behavior behavior) {
    for_each_text_piece(pieces, [&](const Piece& p, std::vector<Piece>& out) {
        emit(p, p.text, apply_behavior(find_spans(p.text), behavior), out);
    });
}

// `\w+|[^\w\s]+` with the Rust regex crate's Unicode classes, matched by hand.
std::vector<Match> word_or_symbol_runs(std::string_view text) {
    std::vector<Match> out;
    std::size_t i = 0;
    while (i < text.size()) {
        const std::size_t b = i;
        const char32_t cp = next_code_point(text, i);
        const bool word = is_regex_word(cp);
        if (!word && is_whitespace(cp)) continue;
        std::size_t e = i;
        while (e < text.size()) {
            std::size_t j = e;
            const char32_t next = next_code_point(text, j);
            const bool next_word = is_regex_word(next);
            if (word ? !next_word : (next_word || is_whitespace(next))) break;
            e = j;
        }
        out.push_back(Match{b, e});
        i = e;
    }
    return out;
}

bool is_bert_punctuation(char32_t cp) {
    return is_ascii_punctuation(cp) || is_punctuation(cp);
}

class ByteLevelPreTokenizer final : public PreTokenizer {
  public:
    ByteLevelPreTokenizer(std::shared_ptr<const Regex> re, bool add_prefix_space, bool use_regex)
        : re_(std::move(re)), add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}

    void pre_tokenize(std::vector<Piece>& pieces) const override {
        for_each_text_piece(pieces, [&](const Piece& p, std::vector<Piece>& out) {
            std::string text = p.text;
            if (add_prefix_space_ && !text.empty() && text[0] != ' ') text.insert(0, 1, ' ');
            const std::size_t first_new = out.size();
            if (use_regex_) {
                emit(
                    p, text,
                    apply_behavior(spans_of_matches(text, re_->find_all(text)), Behavior::isolated),
                    out);
            } else {
                emit(p, text, {{0, text.size()}}, out);
            }
            for (std::size_t k = first_new; k < out.size(); ++k)
                out[k].text = byte_level_encode(out[k].text);
        });
    }

  private:
    std::shared_ptr<const Regex> re_;
    bool add_prefix_space_, use_regex_;
};

enum class PrependScheme { always, never, first };

class MetaspacePreTokenizer final : public PreTokenizer {
  public:
    MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
        : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {
        std::size_t i = 0;
        replacement_cp_ = next_code_point(replacement_, i);
    }

    void pre_tokenize(std::vector<Piece>& pieces) const override {
        for_each_text_piece(pieces, [&](const Piece& p, std::vector<Piece>& out) {
            std::string text;
            text.reserve(p.text.size() + 8);
            for (char c : p.text) {
                if (c == ' ')
                    text += replacement_;
                else
                    text.push_back(c);
            }
            const bool prepend =
                scheme_ == PrependScheme::always || (scheme_ == PrependScheme::first && p.first);
            if (prepend && !text.empty() && text.compare(0, replacement_.size(), replacement_) != 0)
                text.insert(0, replacement_);
            if (split_) {
                const char32_t r = replacement_cp_;
                emit(p, text,
                     apply_behavior(spans_of_chars(text, [r](char32_t c) { return c == r; }),
                                    Behavior::merged_with_next),
                     out);
            } else {
                emit(p, text, {{0, text.size()}}, out);
            }
        });
    }

  private:
    std::string replacement_;
    char32_t replacement_cp_ = 0;
    PrependScheme scheme_;
    bool split_;
};

class SplitPreTokenizer final : public PreTokenizer {
  public:
    SplitPreTokenizer(Regex re, Behavior behavior, bool invert)
        : re_(std::move(re)), behavior_(behavior), invert_(invert) {}

    void pre_tokenize(std::vector<Piece>& pieces) const override {
        split_with(
            pieces,
            [&](const std::string& text) {
                auto spans = spans_of_matches(text, re_.find_all(text));
                if (invert_) invert(spans);
                return spans;
            },
            behavior_);
    }

  private:
    Regex re_;
    Behavior behavior_;
    bool invert_;
};

class WhitespacePreTokenizer final : public PreTokenizer {
  public:
    void pre_tokenize(std::vector<Piece>& pieces) const override {
        split_with(
            pieces,
            [](const std::string& text) {
                auto spans = spans_of_matches(text, word_or_symbol_runs(text));
                invert(spans);
                return spans;
            },
            Behavior::removed);
    }
};

// Splits on code points that satisfy `pred`, with a fixed behavior.
template <class Pred>
class CharSplitPreTokenizer final : public PreTokenizer {
  public:
    CharSplitPreTokenizer(Pred pred, Behavior behavior) : pred_(pred), behavior_(behavior) {}
    void pre_tokenize(std::vector<Piece>& pieces) const override {
        split_with(
            pieces, [&](const std::string& text) { return spans_of_chars(text, pred_); },
            behavior_);
    }

  private:
    Pred pred_;
    Behavior behavior_;
};

template <class Pred>
std::unique_ptr<PreTokenizer> char_split(Pred pred, Behavior behavior) {
    return std::make_unique<CharSplitPreTokenizer<Pred>>(pred, behavior);
}

// The script the crate's UnicodeScripts pre-tokenizer sees (its fixed_script, after
// SentencePiece's IsValidSentencePiece): kana and U+30FC count as Han; a space and a code
// point of no script (Unknown: unassigned, private use) as "any", which joins any run.
constexpr int kAnyScript = -1;
int fixed_script(char32_t cp) {
    if (cp == 0x30FC) return USCRIPT_HAN;
    if (cp == U' ') return kAnyScript;
    UErrorCode status = U_ZERO_ERROR;
    const UScriptCode script = uscript_getScript(static_cast<UChar32>(cp), &status);
    if (U_FAILURE(status) || script == USCRIPT_UNKNOWN) return kAnyScript;
    if (script == USCRIPT_HIRAGANA || script == USCRIPT_KATAKANA) return USCRIPT_HAN;
    return script;
}

// Cuts where the script changes; "any" code points join the run they are in. As in the
// crate, the first piece starts at the first code point that is not "any": what precedes it
// (leading spaces) is dropped.
class UnicodeScriptsPreTokenizer final : public PreTokenizer {
  public:
    void pre_tokenize(std::vector<Piece>& pieces) const override {
        for_each_text_piece(pieces, [](const Piece& p, std::vector<Piece>& out) {
            std::vector<std::size_t> cuts;
            bool have_last = false;
            int last = 0;
            std::size_t i = 0;
            while (i < p.text.size()) {
                const std::size_t at = i;
                const int script = fixed_script(next_code_point(p.text, i));
                if (script == kAnyScript) continue;
                if (!have_last || last != script) cuts.push_back(at);
                have_last = true;
                last = script;
            }
            cuts.push_back(p.text.size());
            std::vector<std::pair<std::size_t, std::size_t>> ranges;
            for (std::size_t k = 0; k + 1 < cuts.size(); ++k)
                ranges.emplace_back(cuts[k], cuts[k + 1]);
            emit(p, p.text, ranges, out);
        });
    }
};

class SequencePreTokenizer final : public PreTokenizer {
  public:
    explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts)
        : parts_(std::move(parts)) {}
    void pre_tokenize(std::vector<Piece>& pieces) const override {
        for (const auto& p : parts_)
            p->pre_tokenize(pieces);
    }

  private:
    std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

Result<std::shared_ptr<const Regex>> gpt2_regex() {
    static const Result<std::shared_ptr<const Regex>> re =
        []() -> Result<std::shared_ptr<const Regex>> {
        SUTRA_ASSIGN(auto r, Regex::compile(kGpt2Pattern, "the ByteLevel pre-tokenizer's regex"));
        return std::shared_ptr<const Regex>(std::make_shared<Regex>(std::move(r)));
    }();
    if (!re.ok()) return make_error(Errc::internal, re.error().message);
    return re.value();
}

Result<Behavior> read_behavior(const json& j, const std::string& what, Behavior fallback) {
    if (!j.contains("behavior")) return fallback;
    if (!j["behavior"].is_string())
        return make_error(Errc::bad_format, what + ": \"behavior\" must be a string");
    const auto& b = j["behavior"].get_ref<const std::string&>();
    if (b == "Removed") return Behavior::removed;
    if (b == "Isolated") return Behavior::isolated;
    if (b == "MergedWithPrevious") return Behavior::merged_with_previous;
    if (b == "MergedWithNext") return Behavior::merged_with_next;
    if (b == "Contiguous") return Behavior::contiguous;
    return make_error(Errc::bad_format,
                      what + ": unknown behavior \"" + b +
                          "\" (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or "
                          "Contiguous)");
}

Result<std::unique_ptr<PreTokenizer>> make_metaspace(const json& j, const std::string& what) {
    SUTRA_ASSIGN(std::string replacement, get_string(j, "replacement", what));
    if (!is_valid_utf8(replacement) || count_code_points(replacement) != 1)
        return make_error(Errc::bad_format,
                          what + ": \"replacement\" must be exactly one character");
    PrependScheme scheme = PrependScheme::always;
    if (j.contains("prepend_scheme") && !j["prepend_scheme"].is_null()) {
        SUTRA_ASSIGN(std::string s, get_string(j, "prepend_scheme", what));
        if (s == "always")
            scheme = PrependScheme::always;
        else if (s == "never")
            scheme = PrependScheme::never;
        else if (s == "first")
            scheme = PrependScheme::first;
        else
            return make_error(Errc::bad_format, what + ": unknown prepend_scheme \"" + s +
                                                    "\" (expected always, never or first)");
    }
    // The legacy spelling: add_prefix_space false means "never". As in the crate, it must then
    // be declared so: prepend_scheme defaults to "always", and a mismatch is refused.
    SUTRA_ASSIGN(bool add_prefix_space, get_bool(j, "add_prefix_space", true, what));
    if (!add_prefix_space && scheme != PrependScheme::never)
        return make_error(Errc::bad_format,
                          what +
                              ": add_prefix_space does not match declared prepend_scheme "
                              "(add_prefix_space false needs \"prepend_scheme\": \"never\")");
    SUTRA_ASSIGN(bool split, get_bool(j, "split", true, what));
    return std::unique_ptr<PreTokenizer>(
        std::make_unique<MetaspacePreTokenizer>(std::move(replacement), scheme, split));
}

Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer_at(const json& j, const std::string& what,
                                                            int depth);

Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer_sequence(const json& j,
                                                                  const std::string& what,
                                                                  int depth) {
    if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
        return make_error(Errc::bad_format,
                          what + ": a Sequence pre-tokenizer needs an array \"pretokenizers\"");
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    const json& list = j["pretokenizers"];
    for (std::size_t k = 0; k < list.size(); ++k) {
        SUTRA_ASSIGN(auto part,
                     make_pre_tokenizer_at(
                         list[k], what + ".pretokenizers[" + std::to_string(k) + "]", depth + 1));
        parts.push_back(std::move(part));
    }
    return std::unique_ptr<PreTokenizer>(std::make_unique<SequencePreTokenizer>(std::move(parts)));
}

Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer_at(const json& j, const std::string& what,
                                                            int depth) {
    if (depth > kMaxComponentDepth)
        return make_error(Errc::too_large, what + ": Sequence pre-tokenizers nested deeper than " +
                                               std::to_string(kMaxComponentDepth));
    SUTRA_ASSIGN(std::string type, get_type(j, what));
    if (type == "ByteLevel") {
        SUTRA_ASSIGN(bool add_prefix_space, get_bool(j, "add_prefix_space", true, what));
        SUTRA_ASSIGN(bool use_regex, get_bool(j, "use_regex", true, what));
        SUTRA_ASSIGN(bool trim_offsets, get_bool(j, "trim_offsets", true, what));
        (void)trim_offsets;  // only moves offsets, never ids
        SUTRA_ASSIGN(auto re, gpt2_regex());
        return std::unique_ptr<PreTokenizer>(
            std::make_unique<ByteLevelPreTokenizer>(std::move(re), add_prefix_space, use_regex));
    }
    if (type == "Metaspace") return make_metaspace(j, what);
    if (type == "Split") {
        SUTRA_ASSIGN(auto re, read_pattern(j, what));
        if (!j.contains("behavior"))
            return make_error(Errc::bad_format, what + ": a Split needs a \"behavior\"");
        SUTRA_ASSIGN(Behavior behavior, read_behavior(j, what, Behavior::isolated));
        SUTRA_ASSIGN(bool inv, get_bool(j, "invert", false, what));
        return std::unique_ptr<PreTokenizer>(
            std::make_unique<SplitPreTokenizer>(std::move(re), behavior, inv));
    }
    if (type == "Whitespace")
        return std::unique_ptr<PreTokenizer>(std::make_unique<WhitespacePreTokenizer>());
    if (type == "WhitespaceSplit")
        return char_split([](char32_t c) { return is_whitespace(c); }, Behavior::removed);
    if (type == "Punctuation") {
        SUTRA_ASSIGN(Behavior behavior, read_behavior(j, what, Behavior::isolated));
        return char_split(is_bert_punctuation, behavior);
    }
    if (type == "Digits") {
        SUTRA_ASSIGN(bool individual, get_bool(j, "individual_digits", false, what));
        return char_split([](char32_t c) { return is_numeric(c); },
                          individual ? Behavior::isolated : Behavior::contiguous);
    }
    if (type == "BertPreTokenizer") {
        std::vector<std::unique_ptr<PreTokenizer>> parts;
        parts.push_back(char_split([](char32_t c) { return is_whitespace(c); }, Behavior::removed));
        parts.push_back(char_split(is_bert_punctuation, Behavior::isolated));
        return std::unique_ptr<PreTokenizer>(
            std::make_unique<SequencePreTokenizer>(std::move(parts)));
    }
    if (type == "UnicodeScripts")
        return std::unique_ptr<PreTokenizer>(std::make_unique<UnicodeScriptsPreTokenizer>());
    if (type == "Sequence") return make_pre_tokenizer_sequence(j, what, depth);
    return make_error(Errc::unsupported,
                      what + ": pre-tokenizer type \"" + type +
                          "\" is not supported (supported: " + kSupportedPreTokenizers + ")");
}

}  // namespace

Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer(const nlohmann::json& j,
                                                         const std::string& what) {
    return make_pre_tokenizer_at(j, what, 0);
}

}  // namespace sutra::tokenize
