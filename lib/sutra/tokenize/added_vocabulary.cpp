#include "sutra/tokenize/added_vocabulary.hpp"

#include <algorithm>

#include "sutra/tokenize/json_fields.hpp"
#include "sutra/tokenize/json_values.hpp"
#include "sutra/tokenize/unicode.hpp"
#include "sutra/tokenize/vocabulary.hpp"

namespace sutra::tokenize {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxAddedTokens = std::size_t{1} << 20;
constexpr std::size_t kMaxContentBytes = 4096;

bool same(const AddedToken& a, const AddedToken& b) {
    return a.content == b.content && a.single_word == b.single_word && a.lstrip == b.lstrip &&
           a.rstrip == b.rstrip && a.normalized == b.normalized && a.special == b.special;
}

// The code point that ends `text` (valid UTF-8, not empty).
char32_t last_code_point(std::string_view text) {
    std::size_t i = text.size() - 1;
    while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80)
        --i;
    return next_code_point(text, i);
}

// Regex `\w$` / `^\w` of the Rust regex crate.
bool ends_with_word(std::string_view text) {
    return !text.empty() && is_regex_word(last_code_point(text));
}
bool starts_with_word(std::string_view text) {
    std::size_t i = 0;
    return !text.empty() && is_regex_word(next_code_point(text, i));
}

// Where the whitespace that ends `text` begins (`\s*$`).
std::size_t trailing_space_start(std::string_view text) {
    std::size_t start = text.size();
    while (start > 0) {
        std::size_t b = start - 1;
        while (b > 0 && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80)
            --b;
        std::size_t i = b;
        if (!is_whitespace(next_code_point(text, i))) break;
        start = b;
    }
    return start;
}

// The length of the whitespace that starts `text` (`^\s*`).
std::size_t leading_space_length(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t k = i;
        if (!is_whitespace(next_code_point(text, k))) break;
        i = k;
    }
    return i;
}

Result<AddedToken> read_token(const json& e, const std::string& field) {
    if (!e.is_object()) return json_field_error(field, "must be an object with a \"content\"");
    AddedToken t;
    SUTRA_ASSIGN(t.content, get_string(e, "content", field));
    if (t.content.size() > kMaxContentBytes)
        return make_error(Errc::too_large, field + ".content: " + std::to_string(t.content.size()) +
                                               " bytes exceed the limit of " +
                                               std::to_string(kMaxContentBytes));
    // The file's "id" is only checked for its type: the crate assigns ids itself.
    SUTRA_TRY(json_optional_int(e, "id", 0, int64_t{0xFFFFFFFF}, field));
    SUTRA_ASSIGN(t.special, get_bool(e, "special", false, field));
    SUTRA_ASSIGN(t.single_word, get_bool(e, "single_word", false, field));
    SUTRA_ASSIGN(t.lstrip, get_bool(e, "lstrip", false, field));
    SUTRA_ASSIGN(t.rstrip, get_bool(e, "rstrip", false, field));
    SUTRA_ASSIGN(t.normalized, get_bool(e, "normalized", !t.special, field));
    return t;
}

}  // namespace

void AddedVocabulary::Matcher::add(std::string_view pattern, int32_t id) {
    if (pattern.empty()) return;
    if (token_id.empty()) token_id.push_back(-1);
    first_byte[static_cast<unsigned char>(pattern[0])] = true;
    uint32_t node = 0;
    for (unsigned char c : pattern) {
        const uint64_t key = PairMap::pack(node, c);
        if (const uint64_t* child = trie.find(key)) {
            node = static_cast<uint32_t>(*child);
        } else {
            const auto fresh = static_cast<uint32_t>(token_id.size());
            token_id.push_back(-1);
            trie.put(key, fresh);
            node = fresh;
        }
    }
    // Equal patterns: the first one added is the one found (as the crate's automaton).
    if (token_id[node] < 0) token_id[node] = id;
}

Result<AddedVocabulary> AddedVocabulary::parse(const json* list, const Model& model,
                                               const Normalizer* normalizer,
                                               const std::string& what) {
    AddedVocabulary v;
    if (!list || list->is_null()) return v;
    if (!list->is_array()) return json_field_error(what, "must be an array of added tokens");
    if (list->size() > kMaxAddedTokens)
        return make_error(Errc::too_large, what + ": " + std::to_string(list->size()) +
                                               " added tokens exceed the limit of " +
                                               std::to_string(kMaxAddedTokens));
    std::vector<AddedToken> tokens;
    tokens.reserve(list->size());
    for (std::size_t k = 0; k < list->size(); ++k) {
        SUTRA_ASSIGN(AddedToken t, read_token((*list)[k], what + "[" + std::to_string(k) + "]"));
        tokens.push_back(std::move(t));
    }

    // The crate's AddedVocabulary::add_tokens over the whole list.
    std::vector<const AddedToken*> specials;  // in order, first of each content
    std::vector<const AddedToken*> others;
    for (const AddedToken& t : tokens) {
        if (t.special && !t.content.empty() && v.special_set_.insert(t.content).second)
            specials.push_back(&t);
    }
    const int64_t model_size = model.vocab_size();
    int64_t max_added = -1;
    for (std::size_t k = 0; k < tokens.size(); ++k) {
        const AddedToken& t = tokens[k];
        if (t.content.empty()) continue;
        if (std::any_of(v.by_id_.begin(), v.by_id_.end(),
                        [&](const auto& e) { return same(e.second, t); }))
            continue;
        int64_t id = v.token_to_id(t.content);
        if (id < 0) id = model.token_to_id(t.content);
        if (id < 0) {
            if (max_added < 0)
                id = model_size;
            else
                id = (max_added >= model_size || model_size == 0) ? max_added + 1 : model_size;
        }
        if (id > kMaxTokenId)
            return make_error(Errc::too_large, what + "[" + std::to_string(k) +
                                                   "]: the token would get id " +
                                                   std::to_string(id) + ", past the limit of " +
                                                   std::to_string(kMaxTokenId));
        const auto id32 = static_cast<int32_t>(id);
        v.by_content_[t.content] = id32;
        v.by_id_[id32] = t;
        max_added = std::max(max_added, id);
        if (!v.is_special(t.content)) others.push_back(&t);
    }
    for (const auto& [id, t] : v.by_id_)
        v.id_limit_ = std::max<int64_t>(v.id_limit_, id + 1);

    for (auto& [id, t] : v.by_id_) {
        t.text = t.content;
        if (t.normalized && normalizer) normalizer->normalize(t.text);
    }

    std::vector<const AddedToken*> all = specials;
    all.insert(all.end(), others.begin(), others.end());
    for (const AddedToken* t : all) {
        const int32_t id = v.token_to_id(t->content);
        if (!t->normalized) {
            v.raw_.add(t->content, id);
        } else {
            std::string pattern = t->content;
            if (normalizer) normalizer->normalize(pattern);
            v.normalized_.add(pattern, id);
        }
    }
    return v;
}

int32_t AddedVocabulary::token_to_id(std::string_view content) const {
    const auto it = by_content_.find(content);
    return it == by_content_.end() ? -1 : it->second;
}

const std::string* AddedVocabulary::id_to_token(int32_t id) const {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &it->second.text;
}

void AddedVocabulary::split(std::vector<Piece>& pieces, const Matcher& m) const {
    if (m.token_id.empty()) {
        pieces.erase(std::remove_if(pieces.begin(), pieces.end(),
                                    [](const Piece& p) { return p.id < 0 && p.text.empty(); }),
                     pieces.end());
        return;
    }
    std::vector<Piece> out;
    out.reserve(pieces.size());
    for (Piece& p : pieces) {
        if (p.id >= 0)
            out.push_back(std::move(p));
        else
            split_one(p, m, out);
    }
    pieces = std::move(out);
}

// The crate's find_matches: the matches of the automaton, left to right and
// non-overlapping, each one kept or discarded (single_word) and widened (lstrip/rstrip).
void AddedVocabulary::split_one(const Piece& piece, const Matcher& m,
                                std::vector<Piece>& out) const {
    const std::string_view s = piece.text;
    std::size_t start_offset = 0;
    auto emit = [&](std::size_t begin, std::size_t end, int32_t id) {
        if (begin >= end && id < 0) return;
        out.push_back(Piece{std::string(s.substr(begin, end - begin)), id,
                            piece.first && begin == 0 && id < 0});
    };
    std::size_t pos = 0;
    while (pos < s.size()) {
        if (!m.first_byte[static_cast<unsigned char>(s[pos])]) {
            ++pos;
            continue;
        }
        uint32_t node = 0;
        std::size_t match_end = 0;
        int32_t id = -1;
        for (std::size_t k = pos; k < s.size(); ++k) {
            const uint64_t* child =
                m.trie.find(PairMap::pack(node, static_cast<unsigned char>(s[k])));
            if (!child) break;
            node = static_cast<uint32_t>(*child);
            if (m.token_id[node] >= 0) {
                match_end = k + 1;
                id = m.token_id[node];
            }
        }
        if (id < 0) {
            ++pos;
            continue;
        }
        std::size_t start = pos;
        std::size_t stop = match_end;
        pos = match_end;  // the automaton goes on after the match, kept or not
        const auto found = by_id_.find(id);
        if (found == by_id_.end()) continue;  // not reached: every pattern has its token
        const AddedToken& t = found->second;
        if (t.single_word) {
            const bool start_space = start == 0 || !ends_with_word(s.substr(0, start));
            const bool stop_space = stop == s.size() || !starts_with_word(s.substr(stop));
            if (!start_space || !stop_space) continue;
        }
        if (t.lstrip) start = std::max(trailing_space_start(s.substr(0, start)), start_offset);
        if (t.rstrip) stop += leading_space_length(s.substr(stop));
        // A match inside the whitespace a previous rstrip took (the crate panics there).
        start = std::min(start, stop);
        if (start_offset < start) emit(start_offset, start, -1);
        out.push_back(Piece{std::string(s.substr(start, stop - start)), id, false});
        start_offset = stop;
    }
    if (start_offset < s.size()) emit(start_offset, s.size(), -1);
}

}  // namespace sutra::tokenize
