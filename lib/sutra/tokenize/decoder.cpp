// The decoders of tokenizer.json (the crate's decoders/*.rs and the decoder halves of
// pre_tokenizers/byte_level.rs and metaspace.rs): each rewrites the list of token strings
// (decode_chain); the decoded text is the concatenation of the final list.
#include <algorithm>

#include "sutra/tokenize/byte_level.hpp"
#include "sutra/tokenize/json_fields.hpp"
#include "sutra/tokenize/json_values.hpp"
#include "sutra/tokenize/pipeline.hpp"
#include "sutra/tokenize/regex.hpp"
#include "sutra/tokenize/unicode.hpp"

namespace sutra::tokenize {
namespace {

using nlohmann::json;
using Tokens = std::vector<std::string>;

constexpr const char* kSupportedDecoders =
    "ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, WordPiece, BPEDecoder, CTC, "
    "Sequence";
constexpr int kMaxDepth = 16;
constexpr int64_t kMaxStrip = int64_t{1} << 20;

// Every occurrence of `from` in `s` replaced by `to`, as Rust's str::replace (an empty
// `from` matches at every character boundary, the ends included).
std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
    std::string out;
    if (from.empty()) {
        out.append(to);
        for (std::size_t i = 0; i < s.size();) {
            const std::size_t begin = i;
            (void)next_code_point(s, i);
            out.append(s.substr(begin, i - begin));
            out.append(to);
        }
        return out;
    }
    std::size_t pos = 0;
    while (true) {
        const std::size_t hit = s.find(from, pos);
        if (hit == std::string_view::npos) break;
        out.append(s.substr(pos, hit - pos));
        out.append(to);
        pos = hit + from.size();
    }
    out.append(s.substr(pos));
    return out;
}

// Bytes spelled with GPT-2's byte characters back to bytes; a token with any other
// character is kept as it is. The bytes of all tokens are joined and made valid UTF-8 (each
// ill-formed sequence becomes U+FFFD, as Rust's from_utf8_lossy).
class ByteLevelDecoder final : public Decoder {
  public:
    void decode_chain(Tokens& tokens) const override {
        std::string bytes;
        for (const std::string& t : tokens) {
            const std::size_t mark = bytes.size();
            bool all = true;
            for (std::size_t i = 0; i < t.size() && all;) {
                const int b = unicode_to_byte(next_code_point(t, i));
                if (b < 0)
                    all = false;
                else
                    bytes.push_back(static_cast<char>(b));
            }
            if (!all) {
                bytes.resize(mark);
                bytes += t;
            }
        }
        tokens.assign(1, to_valid_utf8(bytes));
    }
};

// The replacement character becomes a space, except in the first token, where it is
// dropped (all of them, as the crate does) unless the prepend scheme is "never".
class MetaspaceDecoder final : public Decoder {
  public:
    MetaspaceDecoder(char32_t replacement, bool strip_first)
        : replacement_(replacement), strip_first_(strip_first) {}
    void decode_chain(Tokens& tokens) const override {
        for (std::size_t k = 0; k < tokens.size(); ++k) {
            const std::string& t = tokens[k];
            std::string out;
            out.reserve(t.size());
            for (std::size_t i = 0; i < t.size();) {
                const std::size_t begin = i;
                const char32_t cp = next_code_point(t, i);
                if (cp == replacement_) {
                    if (!(k == 0 && strip_first_)) out.push_back(' ');
                } else {
                    out.append(t, begin, i - begin);
                }
            }
            tokens[k] = std::move(out);
        }
    }

  private:
    char32_t replacement_;
    bool strip_first_;
};

class ReplaceDecoder final : public Decoder {
  public:
    ReplaceDecoder(Regex re, std::string content)
        : re_(std::move(re)), content_(std::move(content)) {}
    void decode_chain(Tokens& tokens) const override {
        for (std::string& t : tokens) {
            const auto matches = re_.find_all(t);
            if (matches.empty()) continue;
            std::string out;
            std::size_t prev = 0;
            for (const Match& m : matches) {
                out.append(t, prev, m.begin - prev);
                out += content_;
                prev = m.end;
            }
            out.append(t, prev, std::string::npos);
            t = std::move(out);
        }
    }

  private:
    Regex re_;
    std::string content_;
};

// Runs of "<0xNN>" tokens become the text of their bytes; when those bytes are not valid
// UTF-8, each token becomes U+FFFD.
class ByteFallbackDecoder final : public Decoder {
  public:
    void decode_chain(Tokens& tokens) const override {
        Tokens out;
        out.reserve(tokens.size());
        std::string pending;
        auto flush = [&] {
            if (pending.empty()) return;
            if (is_valid_utf8(pending))
                out.push_back(pending);
            else
                for (std::size_t k = 0; k < pending.size(); ++k)
                    out.emplace_back("\xEF\xBF\xBD");
            pending.clear();
        };
        for (std::string& t : tokens) {
            const int b = byte_of(t);
            if (b >= 0) {
                pending.push_back(static_cast<char>(b));
                continue;
            }
            flush();
            out.push_back(std::move(t));
        }
        flush();
        tokens = std::move(out);
    }

  private:
    static int hex(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }
    // "<0xNN>" -> NN, else -1. Like Rust's u8::from_str_radix, a leading '+' is accepted
    // ("<0x+F>" is byte 15).
    static int byte_of(std::string_view t) {
        if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
        if (t[3] == '+') return hex(t[4]);
        const int hi = hex(t[3]);
        const int lo = hex(t[4]);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }
};

class FuseDecoder final : public Decoder {
  public:
    void decode_chain(Tokens& tokens) const override {
        std::string all;
        for (const std::string& t : tokens)
            all += t;
        tokens.assign(1, std::move(all));
    }
};

// Removes up to `start` leading and `stop` trailing `content` characters from each token.
class StripDecoder final : public Decoder {
  public:
    StripDecoder(char32_t content, std::size_t start, std::size_t stop)
        : content_(content), start_(start), stop_(stop) {}
    void decode_chain(Tokens& tokens) const override {
        for (std::string& t : tokens) {
            std::vector<std::size_t> bounds;  // byte offset of each character, then the end
            for (std::size_t i = 0; i < t.size();) {
                bounds.push_back(i);
                (void)next_code_point(t, i);
            }
            const std::size_t n = bounds.size();
            bounds.push_back(t.size());
            auto is_content = [&](std::size_t c) {
                std::size_t i = bounds[c];
                return next_code_point(t, i) == content_;
            };
            std::size_t begin = 0;
            while (begin < std::min(start_, n) && is_content(begin))
                ++begin;
            std::size_t end = n;
            for (std::size_t k = 0; k < stop_ && end > 0 && is_content(end - 1); ++k)
                --end;
            t = begin < end ? t.substr(bounds[begin], bounds[end] - bounds[begin]) : std::string();
        }
    }

  private:
    char32_t content_;
    std::size_t start_;
    std::size_t stop_;
};

// The crate's wordpiece::cleanup: spaces before punctuation and contractions removed.
std::string cleanup(std::string s) {
    static const std::pair<const char*, const char*> kRules[] = {
        {" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
        {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
        {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (const auto& [from, to] : kRules)
        s = replace_all(s, from, to);
    return s;
}

// Tokens after the first lose a leading `prefix` or get a space in front; then cleanup.
class WordPieceDecoder final : public Decoder {
  public:
    WordPieceDecoder(std::string prefix, bool cleanup)
        : prefix_(std::move(prefix)), cleanup_(cleanup) {}
    void decode_chain(Tokens& tokens) const override {
        for (std::size_t k = 0; k < tokens.size(); ++k) {
            std::string& t = tokens[k];
            if (k != 0) {
                if (t.rfind(prefix_, 0) == 0) {
                    // replacen(prefix, "", 1): the first occurrence, which is at the start
                    t.erase(0, prefix_.size());
                } else {
                    t.insert(t.begin(), ' ');
                }
            }
            if (cleanup_) t = cleanup(std::move(t));
        }
    }

  private:
    std::string prefix_;
    bool cleanup_;
};

// The end-of-word suffix becomes a space, except in the last token, where it is removed.
class BpeDecoder final : public Decoder {
  public:
    explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
    void decode_chain(Tokens& tokens) const override {
        for (std::size_t k = 0; k < tokens.size(); ++k)
            tokens[k] = replace_all(tokens[k], suffix_, k + 1 == tokens.size() ? "" : " ");
    }

  private:
    std::string suffix_;
};

// CTC output: repeated tokens collapsed, the pad token removed, the word delimiter made a
// space (with cleanup), empty tokens dropped.
class CtcDecoder final : public Decoder {
  public:
    CtcDecoder(std::string pad, std::string delimiter, bool cleanup)
        : pad_(std::move(pad)), delimiter_(std::move(delimiter)), cleanup_(cleanup) {}
    void decode_chain(Tokens& tokens) const override {
        Tokens out;
        for (std::size_t k = 0; k < tokens.size(); ++k) {
            if (k > 0 && tokens[k] == tokens[k - 1]) continue;
            std::string t = replace_all(tokens[k], pad_, "");
            if (cleanup_) t = replace_all(cleanup(std::move(t)), delimiter_, " ");
            if (!t.empty()) out.push_back(std::move(t));
        }
        tokens = std::move(out);
    }

  private:
    std::string pad_;
    std::string delimiter_;
    bool cleanup_;
};

class SequenceDecoder final : public Decoder {
  public:
    std::vector<std::unique_ptr<Decoder>> parts;
    void decode_chain(Tokens& tokens) const override {
        for (const auto& d : parts)
            d->decode_chain(tokens);
    }
};

// "prepend_scheme" ("always", "first", "never"), or the older "add_prefix_space".
Result<bool> metaspace_strips_first(const json& j, const std::string& what) {
    SUTRA_ASSIGN(auto scheme, json_optional_string(j, "prepend_scheme", what));
    if (scheme) {
        if (*scheme == "always" || *scheme == "first") return true;
        if (*scheme == "never") return false;
        return json_field_error(what + ".prepend_scheme",
                                "\"" + *scheme + "\" must be \"always\", \"first\" or \"never\"");
    }
    return get_bool(j, "add_prefix_space", true, what);
}

Result<std::unique_ptr<Decoder>> make_decoder_at(const json& j, const std::string& what,
                                                 int depth) {
    using Ptr = std::unique_ptr<Decoder>;
    if (depth > kMaxDepth)
        return make_error(Errc::too_large, what + ": Sequence decoders nested deeper than " +
                                               std::to_string(kMaxDepth));
    SUTRA_ASSIGN(std::string type, get_type(j, what));
    if (type == "ByteLevel") return Ptr(std::make_unique<ByteLevelDecoder>());
    if (type == "Metaspace") {
        SUTRA_ASSIGN(char32_t replacement, json_char(j, "replacement", what));
        SUTRA_ASSIGN(bool strip_first, metaspace_strips_first(j, what));
        SUTRA_TRY(get_bool(j, "split", true, what));
        return Ptr(std::make_unique<MetaspaceDecoder>(replacement, strip_first));
    }
    if (type == "Replace") {
        SUTRA_ASSIGN(Regex re, read_pattern(j, what));
        SUTRA_ASSIGN(std::string content, get_string(j, "content", what));
        return Ptr(std::make_unique<ReplaceDecoder>(std::move(re), std::move(content)));
    }
    if (type == "ByteFallback") return Ptr(std::make_unique<ByteFallbackDecoder>());
    if (type == "Fuse") return Ptr(std::make_unique<FuseDecoder>());
    if (type == "Strip") {
        SUTRA_ASSIGN(char32_t content, json_char(j, "content", what));
        SUTRA_ASSIGN(auto start, json_optional_int(j, "start", 0, kMaxStrip, what));
        SUTRA_ASSIGN(auto stop, json_optional_int(j, "stop", 0, kMaxStrip, what));
        return Ptr(std::make_unique<StripDecoder>(content,
                                                  static_cast<std::size_t>(start.value_or(0)),
                                                  static_cast<std::size_t>(stop.value_or(0))));
    }
    if (type == "WordPiece") {
        SUTRA_ASSIGN(auto prefix, json_optional_string(j, "prefix", what));
        SUTRA_ASSIGN(bool clean, get_bool(j, "cleanup", true, what));
        return Ptr(std::make_unique<WordPieceDecoder>(prefix.value_or("##"), clean));
    }
    if (type == "BPEDecoder") {
        SUTRA_ASSIGN(auto suffix, json_optional_string(j, "suffix", what));
        return Ptr(std::make_unique<BpeDecoder>(suffix.value_or("</w>")));
    }
    if (type == "CTC") {
        SUTRA_ASSIGN(auto pad, json_optional_string(j, "pad_token", what));
        SUTRA_ASSIGN(auto delim, json_optional_string(j, "word_delimiter_token", what));
        SUTRA_ASSIGN(bool clean, get_bool(j, "cleanup", true, what));
        return Ptr(std::make_unique<CtcDecoder>(pad.value_or("<pad>"), delim.value_or("|"), clean));
    }
    if (type == "Sequence") {
        const auto it = j.find("decoders");
        if (it == j.end() || !it->is_array())
            return json_field_error(what, "a Sequence decoder needs an array \"decoders\"");
        auto seq = std::make_unique<SequenceDecoder>();
        for (std::size_t k = 0; k < it->size(); ++k) {
            SUTRA_ASSIGN(auto part,
                         make_decoder_at((*it)[k], what + ".decoders[" + std::to_string(k) + "]",
                                         depth + 1));
            seq->parts.push_back(std::move(part));
        }
        return Ptr(std::move(seq));
    }
    return make_error(Errc::unsupported,
                      what + ": decoder type \"" + type +
                          "\" is not supported (supported: " + kSupportedDecoders + ")");
}

}  // namespace

Result<std::unique_ptr<Decoder>> make_decoder(const json& j, const std::string& what) {
    return make_decoder_at(j, what, 0);
}

}  // namespace sutra::tokenize
