#include "sutra/tokenize/regex.hpp"

// Oniguruma otherwise defines a UChar macro, which would replace ICU's UChar in any
// file compiled after this one in a unity build.
#define ONIG_ESCAPE_UCHAR_COLLISION 1
#include <oniguruma.h>

#include <mutex>
#include <utility>

#include "sutra/tokenize/unicode.hpp"

namespace sutra::tokenize {

namespace {

void initialize_oniguruma() {
    static std::once_flag once;
    std::call_once(once, [] {
        OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
        onig_initialize(encodings, 1);
    });
}

const OnigUChar* as_uchar(const char* p) {
    return reinterpret_cast<const OnigUChar*>(p);
}

// Patterns come from tokenizer.json; a few hundred bytes is usual. The limit keeps a hostile
// file from spending minutes in the compiler.
constexpr std::size_t kMaxPatternBytes = 64 * 1024;

}  // namespace

Result<Regex> Regex::compile(std::string_view pattern, const std::string& what) {
    if (pattern.size() > kMaxPatternBytes)
        return make_error(Errc::too_large, what + ": the regex pattern has " +
                                               std::to_string(pattern.size()) + " bytes; at most " +
                                               std::to_string(kMaxPatternBytes) + " are accepted");
    if (!is_valid_utf8(pattern))
        return make_error(Errc::bad_format, what + ": the regex pattern is not valid UTF-8");
    initialize_oniguruma();
    OnigRegex re = nullptr;
    OnigErrorInfo info{};
    const int r = onig_new(&re, as_uchar(pattern.data()), as_uchar(pattern.data() + pattern.size()),
                           ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY, &info);
    if (r != ONIG_NORMAL) {
        OnigUChar buf[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(buf, r, &info);
        if (re != nullptr) onig_free(re);
        return make_error(Errc::bad_format, what + ": regex pattern \"" + std::string(pattern) +
                                                "\" does not compile (Oniguruma, Ruby syntax): " +
                                                reinterpret_cast<const char*>(buf));
    }
    return Regex(re, std::string(pattern));
}

Result<Regex> Regex::literal(std::string_view text, const std::string& what) {
    return compile(regex_escape(text), what);
}

Regex::Regex(Regex&& other) noexcept
    : re_(std::exchange(other.re_, nullptr)), pattern_(std::move(other.pattern_)) {}

Regex& Regex::operator=(Regex&& other) noexcept {
    if (this != &other) {
        if (re_ != nullptr) onig_free(static_cast<OnigRegex>(re_));
        re_ = std::exchange(other.re_, nullptr);
        pattern_ = std::move(other.pattern_);
    }
    return *this;
}

Regex::~Regex() {
    if (re_ != nullptr) onig_free(static_cast<OnigRegex>(re_));
}

std::vector<Match> Regex::find_all(std::string_view text) const {
    std::vector<Match> out;
    if (re_ == nullptr || !is_valid_utf8(text)) return out;
    auto* re = static_cast<OnigRegex>(re_);
    OnigRegion* region = onig_region_new();
    if (region == nullptr) return out;
    const OnigUChar* str = as_uchar(text.data());
    const OnigUChar* end = str + text.size();
    std::size_t last_end = 0;        // where the next search starts
    std::size_t last_match_end = 0;  // the end of the last match returned
    bool any = false;                // whether one was returned
    while (last_end <= text.size()) {
        onig_region_clear(region);
        const int r = onig_search(re, str, end, str + last_end, end, region, ONIG_OPTION_NONE);
        if (r < 0 || region->num_regs < 1) break;  // ONIG_MISMATCH or a search error
        const auto s = static_cast<std::size_t>(region->beg[0]);
        const auto e = static_cast<std::size_t>(region->end[0]);
        if (e < s || s < last_end || e > text.size()) break;  // cannot happen; never trust it
        if (e == s && any && e == last_match_end) {
            // No empty match right where the last match ended: try one character later.
            last_end += last_end < text.size()
                            ? utf8_sequence_length(static_cast<unsigned char>(text[last_end]))
                            : 1;
            continue;
        }
        last_end = e;
        last_match_end = e;
        any = true;
        out.push_back(Match{s, e});
    }
    onig_region_free(region, 1);
    return out;
}

std::string regex_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 8);
    for (char c : text) {
        switch (c) {
            case '\\':
            case '.':
            case '+':
            case '*':
            case '?':
            case '(':
            case ')':
            case '|':
            case '[':
            case ']':
            case '{':
            case '}':
            case '^':
            case '$':
            case '#':
            case '&':
            case '-':
            case '~':
                out.push_back('\\');
                break;
            default:
                break;
        }
        out.push_back(c);
    }
    return out;
}

}  // namespace sutra::tokenize
