#include "sutra/base/suggest.hpp"

#include <algorithm>

namespace sutra {
namespace {

char fold(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equal_folded(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (fold(a[i]) != fold(b[i])) return false;
    return true;
}

bool prefix_folded(std::string_view prefix, std::string_view s) {
    return prefix.size() <= s.size() && equal_folded(prefix, s.substr(0, prefix.size()));
}

size_t allowed_distance(std::string_view word) {
    return word.size() <= 5 ? 1 : 2;
}

}  // namespace

size_t edit_distance(std::string_view a, std::string_view b) {
    // Three rows of the dynamic-programming table: i-2, i-1 and i.
    const size_t m = b.size();
    std::vector<size_t> two(m + 1), one(m + 1), cur(m + 1);
    for (size_t j = 0; j <= m; ++j)
        one[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= m; ++j) {
            const size_t cost = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;
            cur[j] = std::min({one[j] + 1, cur[j - 1] + 1, one[j - 1] + cost});
            if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) &&
                fold(a[i - 2]) == fold(b[j - 1]))
                cur[j] = std::min(cur[j], two[j - 2] + 1);
        }
        std::swap(two, one);
        std::swap(one, cur);
    }
    return one[m];
}

std::vector<std::string> suggest(std::string_view word,
                                 const std::vector<std::string_view>& candidates) {
    std::vector<std::string> out;
    if (word.empty()) return out;
    for (auto c : candidates)
        if (c == word) return out;  // nothing to correct
    for (auto c : candidates)
        if (equal_folded(word, c)) return {std::string(c)};
    if (word.size() >= 3) {
        std::vector<std::string> prefixed;
        for (auto c : candidates)
            if (prefix_folded(word, c)) prefixed.emplace_back(c);
        if (prefixed.size() == 1) return prefixed;
    }
    size_t best = allowed_distance(word);
    for (auto c : candidates) {
        const size_t d = edit_distance(word, c);
        if (d > best) continue;
        if (d < best) {
            best = d;
            out.clear();
        }
        if (d == best && out.size() < 3) out.emplace_back(c);
    }
    return out;
}

std::vector<std::string> suggest(std::string_view word,
                                 const std::vector<std::string>& candidates) {
    std::vector<std::string_view> views(candidates.begin(), candidates.end());
    return suggest(word, views);
}

std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates) {
    const auto s = suggest(word, candidates);
    if (s.empty()) return "";
    std::string out = "did you mean";
    for (size_t i = 0; i < s.size(); ++i)
        out += (i == 0 ? " \"" : (i + 1 == s.size() ? " or \"" : ", \"")) + s[i] + "\"";
    return out + "?";
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
    std::vector<std::string_view> views(candidates.begin(), candidates.end());
    return did_you_mean(word, views);
}

std::string join_names(const std::vector<std::string>& names, std::string_view sep) {
    std::string out;
    for (const auto& n : names) {
        if (!out.empty()) out += sep;
        out += n;
    }
    return out;
}

}  // namespace sutra
