#include "sutra/tokenize/model_bpe.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>

#include "sutra/tokenize/json_fields.hpp"
#include "sutra/tokenize/json_values.hpp"
#include "sutra/tokenize/pair_map.hpp"
#include "sutra/tokenize/unicode.hpp"
#include "sutra/tokenize/vocabulary.hpp"
#include "sutra/tokenize/word_cache.hpp"

namespace sutra::tokenize {
namespace {

using nlohmann::json;

constexpr std::size_t kKeepSymbols = std::size_t{1} << 16;  // symbols kept per thread

class BpeModel final : public Model {
  public:
    Vocabulary vocab;
    PairMap merges;                     // pack(left id, right id) -> pack(rank, merged id)
    std::optional<std::string> prefix;  // continuing_subword_prefix
    std::optional<std::string> suffix;  // end_of_word_suffix
    int32_t unk_id = -1;                // -1: no unk_token (unknown characters are dropped)
    bool fuse_unk = false;
    bool byte_fallback = false;
    bool ignore_merges = false;
    bool merge_nothing = false;           // dropout 1
    std::array<int32_t, 256> byte_ids{};  // "<0xNN>" ids, -1 when absent

    void tokenize(std::string_view piece, std::vector<int32_t>& ids) const override {
        if (piece.empty()) return;
        if (merge_nothing) {
            // The crate's dropout path: no ignore_merges check, no cache.
            word_to_ids(piece, ids);
            return;
        }
        if (ignore_merges) {
            const int32_t id = vocab.find(piece);
            if (id >= 0) {
                ids.push_back(id);
                return;
            }
        }
        if (cache_.get(piece, ids)) return;
        const std::size_t start = ids.size();
        word_to_ids(piece, ids);
        cache_.put(piece, ids.data() + start, ids.size() - start);
    }
    int32_t token_to_id(std::string_view token) const override { return vocab.find(token); }
    const std::string* id_to_token(int32_t id) const override { return vocab.token(id); }
    int64_t vocab_size() const override { return vocab.id_limit(); }
    std::string kind() const override { return "BPE"; }

  private:
    struct Symbol {
        int32_t id;
        int32_t prev;
        int32_t next;
        bool alive;
    };
    struct Merge {
        uint32_t rank;
        int32_t pos;
        int32_t new_id;
    };
    // Heap order: the top is the lowest rank, then the lowest position.
    struct Later {
        bool operator()(const Merge& a, const Merge& b) const {
            return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
        }
    };

    const uint64_t* find_merge(int32_t a, int32_t b) const {
        return merges.find(PairMap::pack(static_cast<uint32_t>(a), static_cast<uint32_t>(b)));
    }

    // The crate's merge_word + Word::merge_all for one piece.
    void word_to_ids(std::string_view w, std::vector<int32_t>& out) const {
        thread_local std::vector<Symbol> sym;
        thread_local std::vector<Merge> heap;
        thread_local std::string buf;
        sym.clear();
        auto add = [&](int32_t id) {
            const auto n = static_cast<int32_t>(sym.size());
            sym.push_back(Symbol{id, n - 1, n + 1, true});
        };
        int32_t pending_unk_count = 0;  // unknown characters waiting to become unk tokens
        std::size_t i = 0;
        while (i < w.size()) {
            const std::size_t begin = i;
            (void)next_code_point(w, i);
            std::string_view s = w.substr(begin, i - begin);
            const bool first = begin == 0;
            const bool last = i >= w.size();
            if ((prefix && !first) || (suffix && last)) {
                buf.clear();
                if (prefix && !first) buf += *prefix;
                buf += s;
                if (suffix && last) buf += *suffix;
                s = buf;
            }
            const int32_t id = vocab.find(s);
            if (id >= 0) {
                for (; pending_unk_count > 0;
                     pending_unk_count = fuse_unk ? 0 : pending_unk_count - 1)
                    add(unk_id);
                add(id);
                continue;
            }
            if (byte_fallback) {
                bool all = true;
                for (unsigned char c : s)
                    all = all && byte_ids[c] >= 0;
                if (all) {
                    // As the crate: a pending unk is not flushed before the byte tokens.
                    for (unsigned char c : s)
                        add(byte_ids[c]);
                    continue;
                }
            }
            if (unk_id >= 0) ++pending_unk_count;
        }
        for (; pending_unk_count > 0; pending_unk_count = fuse_unk ? 0 : pending_unk_count - 1)
            add(unk_id);
        if (sym.empty()) return;
        sym.back().next = -1;

        if (!merge_nothing && sym.size() > 1) {
            heap.clear();
            for (std::size_t k = 0; k + 1 < sym.size(); ++k) {
                if (const uint64_t* m = find_merge(sym[k].id, sym[k + 1].id))
                    heap.push_back(Merge{static_cast<uint32_t>(*m >> 32), static_cast<int32_t>(k),
                                         static_cast<int32_t>(*m & 0xffffffffu)});
            }
            std::make_heap(heap.begin(), heap.end(), Later{});
            const auto n = static_cast<int32_t>(sym.size());
            while (!heap.empty()) {
                std::pop_heap(heap.begin(), heap.end(), Later{});
                const Merge top = heap.back();
                heap.pop_back();
                Symbol& cur = sym[static_cast<std::size_t>(top.pos)];
                if (!cur.alive || cur.next < 0) continue;
                const int32_t next_pos = cur.next;
                const Symbol right = sym[static_cast<std::size_t>(next_pos)];
                // A stale entry: the pair at this position has changed since it was queued.
                const uint64_t* m = find_merge(cur.id, right.id);
                if (!m || static_cast<int32_t>(*m & 0xffffffffu) != top.new_id) continue;
                cur.id = top.new_id;
                cur.next = right.next;
                sym[static_cast<std::size_t>(next_pos)].alive = false;
                if (right.next >= 0 && right.next < n)
                    sym[static_cast<std::size_t>(right.next)].prev = top.pos;
                auto push = [&](int32_t pos, const uint64_t* mm) {
                    heap.push_back(Merge{static_cast<uint32_t>(*mm >> 32), pos,
                                         static_cast<int32_t>(*mm & 0xffffffffu)});
                    std::push_heap(heap.begin(), heap.end(), Later{});
                };
                if (cur.prev >= 0) {
                    if (const uint64_t* pm =
                            find_merge(sym[static_cast<std::size_t>(cur.prev)].id, cur.id))
                        push(cur.prev, pm);
                }
                if (cur.next >= 0 && cur.next < n) {
                    if (const uint64_t* nm =
                            find_merge(cur.id, sym[static_cast<std::size_t>(cur.next)].id))
                        push(top.pos, nm);
                }
            }
        }
        for (const Symbol& s : sym)
            if (s.alive) out.push_back(s.id);
        // A huge piece (a whole text without a pre-tokenizer) must not pin its scratch memory.
        if (sym.capacity() > kKeepSymbols) {
            sym = {};
            heap = {};
        }
    }

    WordCache cache_;
};

std::string quote_token(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

// One entry of "merges": "a b" or ["a", "b"], as views into the document. nullopt for a
// "#version" line (skipped by the crate's merges.txt reader, which the string form goes
// through). `field` names the entry in messages (called only on an error).
template <class Field>
Result<std::optional<std::pair<std::string_view, std::string_view>>> read_merge(const json& m,
                                                                                Field field) {
    using Pair = std::pair<std::string_view, std::string_view>;
    if (m.is_string()) {
        const std::string_view s = m.get_ref<const std::string&>();
        if (s.substr(0, 8) == "#version") return std::optional<Pair>{};
        const std::size_t sp = s.find(' ');
        if (sp == std::string_view::npos || s.find(' ', sp + 1) != std::string_view::npos)
            return json_field_error(field(),
                                    quote_token(s) + " must be two tokens separated by one space");
        return std::optional<Pair>{Pair{s.substr(0, sp), s.substr(sp + 1)}};
    }
    if (m.is_array()) {
        if (m.size() != 2 || !m[0].is_string() || !m[1].is_string())
            return json_field_error(field(), "must be a pair of strings [\"a\", \"b\"]");
        return std::optional<Pair>{
            Pair{m[0].get_ref<const std::string&>(), m[1].get_ref<const std::string&>()}};
    }
    return json_field_error(field(), "must be a string \"a b\" or a pair [\"a\", \"b\"], not " +
                                         std::string(m.type_name()));
}

}  // namespace

Result<std::unique_ptr<Model>> make_bpe_model(const json& j, const std::string& what) {
    if (!j.is_object()) return make_error(Errc::bad_format, what + ": must be a JSON object");
    auto model = std::make_unique<BpeModel>();

    const auto vit = j.find("vocab");
    if (vit == j.end() || !vit->is_object())
        return make_error(Errc::bad_format,
                          what + ": a BPE model needs an object \"vocab\" (token -> id)");
    model->vocab.reserve(vit->size());
    for (auto it = vit->begin(); it != vit->end(); ++it) {
        int64_t id = 0;
        if (it->is_number_unsigned() && it->get<uint64_t>() <= uint64_t{kMaxTokenId}) {
            id = static_cast<int64_t>(it->get<uint64_t>());
        } else {
            SUTRA_ASSIGN(id, json_int_value(*it, 0, kMaxTokenId,
                                            what + ".vocab[" + quote_token(it.key()) + "]"));
        }
        model->vocab.add(it.key(), static_cast<int32_t>(id));
    }
    SUTRA_TRY(model->vocab.finish(what + ".vocab"));

    SUTRA_ASSIGN(auto dropout, json_optional_number(j, "dropout", what));
    if (dropout) {
        if (*dropout < 0.0 || *dropout > 1.0)
            return json_field_error(what + ".dropout",
                                    std::to_string(*dropout) + " must be between 0 and 1");
        if (*dropout != 0.0 && *dropout != 1.0)
            return make_error(Errc::unsupported,
                              what + ".dropout: " + j["dropout"].dump() +
                                  " makes BPE skip merges at random, so the ids are not "
                                  "reproducible; set it to null for inference");
        model->merge_nothing = *dropout == 1.0;
    }
    SUTRA_ASSIGN(model->prefix, json_optional_string(j, "continuing_subword_prefix", what));
    SUTRA_ASSIGN(model->suffix, json_optional_string(j, "end_of_word_suffix", what));
    SUTRA_ASSIGN(model->fuse_unk, get_bool(j, "fuse_unk", false, what));
    SUTRA_ASSIGN(model->byte_fallback, get_bool(j, "byte_fallback", false, what));
    SUTRA_ASSIGN(model->ignore_merges, get_bool(j, "ignore_merges", false, what));

    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        model->byte_ids[static_cast<std::size_t>(b)] = model->vocab.find(name);
    }
    // An unk_token missing from the vocabulary makes the crate fail any encode that needs
    // it; sutra then drops the character, as without an unk_token.
    SUTRA_ASSIGN(auto unk, json_optional_string(j, "unk_token", what));
    if (unk) model->unk_id = model->vocab.find(*unk);

    const auto mit = j.find("merges");
    if (mit == j.end() || !mit->is_array())
        return make_error(Errc::bad_format,
                          what +
                              ": a BPE model needs an array \"merges\" (\"a b\" or [\"a\", "
                              "\"b\"] entries; [] for none)");
    const std::size_t prefix_len = model->prefix ? model->prefix->size() : 0;
    model->merges.reserve(mit->size());
    uint32_t rank = 0;
    // One form for the whole list, as the crate's untagged MergeType.
    const bool strings = !mit->empty() && (*mit)[0].is_string();
    std::string merged;
    for (std::size_t k = 0; k < mit->size(); ++k) {
        auto field_of = [&] { return what + ".merges[" + std::to_string(k) + "]"; };
        if (k > 0 && (*mit)[k].is_string() != strings)
            return json_field_error(field_of(),
                                    std::string("must be ") +
                                        (strings ? "a string \"a b\"" : "a pair [\"a\", \"b\"]") +
                                        " like merges[0] (one form for all merges)");
        SUTRA_ASSIGN(auto pair, read_merge((*mit)[k], field_of));
        if (!pair) continue;
        const auto& [a, b] = *pair;
        const int32_t a_id = model->vocab.find(a);
        const int32_t b_id = model->vocab.find(b);
        if (a_id < 0)
            return json_field_error(field_of(), quote_token(a) + " is not in the vocabulary");
        if (b_id < 0)
            return json_field_error(field_of(), quote_token(b) + " is not in the vocabulary");
        // The merged token is a + b without its first prefix_len bytes (the crate strips the
        // continuing_subword_prefix's length whether or not b starts with it).
        if (b.size() < prefix_len ||
            (prefix_len < b.size() && (static_cast<unsigned char>(b[prefix_len]) & 0xC0) == 0x80))
            return json_field_error(
                field_of(), quote_token(b) + " is shorter than the continuing_subword_prefix " +
                                quote_token(*model->prefix) + " or splits a character");
        merged.assign(a);
        merged.append(b.substr(prefix_len));
        const int32_t m_id = model->vocab.find(merged);
        if (m_id < 0)
            return json_field_error(field_of(), quote_token(merged) + " (the merge of " +
                                                    quote_token(a) + " and " + quote_token(b) +
                                                    ") is not in the vocabulary");
        model->merges.put(PairMap::pack(static_cast<uint32_t>(a_id), static_cast<uint32_t>(b_id)),
                          PairMap::pack(rank, static_cast<uint32_t>(m_id)));
        ++rank;
    }
    return std::unique_ptr<Model>(std::move(model));
}

}  // namespace sutra::tokenize
