#include "sutra/plan/role.hpp"

#include <array>

namespace sutra::plan {
namespace {

constexpr std::array<std::string_view, 5> kNames = {"embedding", "attention", "feedforward",
                                                    "output", "other"};

bool contains(std::string_view s, std::string_view part) {
    return s.find(part) != std::string_view::npos;
}
bool starts_with(std::string_view s, std::string_view p) {
    return s.substr(0, p.size()) == p;
}

}  // namespace

std::string_view role_name(Role r) {
    return kNames[static_cast<size_t>(r)];
}

std::optional<Role> parse_role(std::string_view name) {
    for (size_t i = 0; i < kNames.size(); ++i)
        if (kNames[i] == name) return static_cast<Role>(i);
    return std::nullopt;
}

Role classify_tensor(std::string_view n) {
    if (contains(n, "lm_head") || n == "output.weight" || n == "head.weight" ||
        contains(n, "embed_out"))
        return Role::output;
    if (contains(n, "embed_tokens") || contains(n, "word_embeddings") ||
        contains(n, "tok_embeddings") || starts_with(n, "wte") || contains(n, ".wte.") ||
        starts_with(n, "emb.") || contains(n, ".embeddings.") || contains(n, ".embedding."))
        return Role::embedding;
    if (contains(n, "self_attn") || contains(n, ".attn.") || contains(n, ".attention.") ||
        contains(n, ".att."))
        return Role::attention;
    if (contains(n, ".mlp.") || contains(n, "feed_forward") || contains(n, ".ffn.") ||
        contains(n, ".ffn_"))
        return Role::feedforward;
    return Role::other;
}

bool glob_match(std::string_view p, std::string_view s) {
    // Iterative matcher with single-star backtracking: O(|p| * |s|) worst case, no recursion.
    size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
    while (si < s.size()) {
        if (pi < p.size() && (p[pi] == '?' || p[pi] == s[si])) {
            ++pi;
            ++si;
        } else if (pi < p.size() && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (star != std::string_view::npos) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < p.size() && p[pi] == '*')
        ++pi;
    return pi == p.size();
}

}  // namespace sutra::plan
