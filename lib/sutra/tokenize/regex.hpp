#pragma once
// A compiled Oniguruma regular expression, the engine the Hugging Face `tokenizers` crate
// uses through the `onig` crate: Ruby syntax, UTF-8, no options. A Regex is immutable after
// compile() and may be searched from several threads at once.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"

namespace sutra::tokenize {

struct Match {
    std::size_t begin = 0;  // byte offsets into the searched text
    std::size_t end = 0;
};

class Regex {
  public:
    // Compiles `pattern` (UTF-8). A pattern Oniguruma refuses is Errc::bad_format naming
    // `what` and the pattern; ill-formed UTF-8 in the pattern is refused too.
    static Result<Regex> compile(std::string_view pattern, const std::string& what);

    // A regex matching `text` literally, as the crate builds one for a `{"String": ...}`
    // pattern (regex::escape, then onig).
    static Result<Regex> literal(std::string_view text, const std::string& what);

    Regex(Regex&& other) noexcept;
    Regex& operator=(Regex&& other) noexcept;
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;
    ~Regex();

    // Every non-overlapping match in `text`, left to right, as the onig crate's find_iter:
    // each search starts where the previous match ended, and an empty match exactly where the
    // previous match ended is not taken (the search moves on one character). Text that is not
    // well-formed UTF-8 gives no matches. If Oniguruma gives up on a search (its backtracking
    // limit), the matches found so far are returned.
    std::vector<Match> find_all(std::string_view text) const;

    const std::string& pattern() const { return pattern_; }

  private:
    Regex(void* re, std::string pattern) : re_(re), pattern_(std::move(pattern)) {}
    void* re_ = nullptr;  // OnigRegex (kept opaque so that users need not include oniguruma.h)
    std::string pattern_;
};

// `text` with every character that is special in a pattern escaped, as Rust's regex::escape.
std::string regex_escape(std::string_view text);

}  // namespace sutra::tokenize
