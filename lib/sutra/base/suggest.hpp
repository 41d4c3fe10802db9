#pragma once
// "Did you mean ...?" for mistyped names: subcommands, presets, methods, dtypes.
//
// A candidate is suggested when it is a likely typo of the word: the same word in another
// letter case, the only candidate the word is a prefix of (at least 3 letters: "quant" for
// "quantize"), or one within a small edit distance, counted case-insensitively as
// Damerau-Levenshtein (optimal string alignment: insertions, deletions, substitutions and
// swaps of two neighbours cost 1). The distance allowed grows with the word: 1 for words of
// up to 5 characters, 2 for longer ones, so "awk" suggests "awq" but "abc" suggests nothing.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sutra {

// Optimal-string-alignment distance between a and b, ASCII letters compared without case.
size_t edit_distance(std::string_view a, std::string_view b);

// The likely intended candidates for `word`, best first (more than one only when several are
// equally close; at most 3), or none. An exact match (same case) gives none: nothing to fix.
std::vector<std::string> suggest(std::string_view word, const std::vector<std::string>& candidates);
std::vector<std::string> suggest(std::string_view word,
                                 const std::vector<std::string_view>& candidates);

// `did you mean "x"?` / `did you mean "x" or "y"?` for the suggestions; "" when there are none.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);

// "a, b, c": the candidates for a message's list of choices.
std::string join_names(const std::vector<std::string>& names, std::string_view sep = ", ");

}  // namespace sutra
