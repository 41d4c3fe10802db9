#include "sutra/tokenize/model_unigram.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <limits>

#include "sutra/tokenize/json_fields.hpp"
#include "sutra/tokenize/json_values.hpp"
#include "sutra/tokenize/pair_map.hpp"
#include "sutra/tokenize/unicode.hpp"
#include "sutra/tokenize/vocabulary.hpp"
#include "sutra/tokenize/word_cache.hpp"

namespace sutra::tokenize {
namespace {

using nlohmann::json;

// The crate's K_UNK_PENALTY.
constexpr double kUnkPenalty = 10.0;
constexpr std::size_t kKeepPositions = std::size_t{1} << 16;  // positions kept per thread

class UnigramModel final : public Model {
  public:
    Vocabulary vocab;
    std::vector<double> scores;    // by id
    PairMap trie;                  // pack(node, byte) -> child node; node 0 is the root
    std::vector<int32_t> node_id;  // the piece id ending at a node, or -1
    int32_t unk_id = -1;
    bool byte_fallback = false;
    double unk_score = 0.0;
    std::array<int32_t, 256> byte_ids{};

    void add_to_trie(std::string_view piece, int32_t id) {
        uint32_t node = 0;
        for (unsigned char c : piece) {
            const uint64_t key = PairMap::pack(node, c);
            if (const uint64_t* child = trie.find(key)) {
                node = static_cast<uint32_t>(*child);
            } else {
                const auto fresh = static_cast<uint32_t>(node_id.size());
                node_id.push_back(-1);
                trie.put(key, fresh);
                node = fresh;
            }
        }
        node_id[node] = id;  // a repeated piece: the later id, as the crate's token_to_ids
    }

    void tokenize(std::string_view piece, std::vector<int32_t>& ids) const override {
        if (piece.empty()) return;
        if (cache_.get(piece, ids)) return;
        const std::size_t start = ids.size();
        encode(piece, ids);
        cache_.put(piece, ids.data() + start, ids.size() - start);
    }
    int32_t token_to_id(std::string_view token) const override { return vocab.find(token); }
    const std::string* id_to_token(int32_t id) const override { return vocab.token(id); }
    int64_t vocab_size() const override { return vocab.id_limit(); }
    std::string kind() const override { return "Unigram"; }

  private:
    struct Node {
        double score;
        int32_t starts_at;  // -1: not reached yet
        int32_t id;
    };

    void encode(std::string_view s, std::vector<int32_t>& out) const {
        thread_local std::vector<Node> best;
        thread_local std::vector<std::pair<int32_t, int32_t>> path;  // (start, end) reversed
        thread_local std::vector<bool> unk;
        const std::size_t n = s.size();
        best.assign(n + 1, Node{0.0, -1, -1});
        std::size_t pos = 0;
        while (pos < n) {
            std::size_t next = pos;
            (void)next_code_point(s, next);
            const std::size_t char_len = next - pos;
            const double here = best[pos].score;
            bool single = false;
            uint32_t node = 0;
            for (std::size_t k = pos; k < n; ++k) {
                const uint64_t* child =
                    trie.find(PairMap::pack(node, static_cast<unsigned char>(s[k])));
                if (!child) break;
                node = static_cast<uint32_t>(*child);
                const int32_t id = node_id[node];
                if (id < 0) continue;
                Node& target = best[k + 1];
                const double cand = scores[static_cast<std::size_t>(id)] + here;
                if (target.starts_at < 0 || cand > target.score)
                    target = Node{cand, static_cast<int32_t>(pos), id};
                if (k + 1 - pos == char_len) single = true;
            }
            if (!single) {
                Node& target = best[pos + char_len];
                const double cand = unk_score + here;
                if (target.starts_at < 0 || cand > target.score)
                    target = Node{cand, static_cast<int32_t>(pos), unk_id};
            }
            pos = next;
        }
        // Back from the end; runs of unknown characters are fused into one token.
        path.clear();
        unk.clear();
        std::size_t end = n;
        while (end > 0) {
            const Node& node = best[end];
            if (node.starts_at < 0) break;  // not reached: every character ends a path
            const auto begin = static_cast<std::size_t>(node.starts_at);
            const bool is_unk = unk_id >= 0 && node.id == unk_id;
            if (is_unk && !unk.empty() && unk.back())
                path.back().first = static_cast<int32_t>(begin);
            else {
                path.emplace_back(static_cast<int32_t>(begin), static_cast<int32_t>(end));
                unk.push_back(is_unk);
            }
            end = begin;
        }
        for (std::size_t k = path.size(); k-- > 0;) {
            const std::string_view token =
                s.substr(static_cast<std::size_t>(path[k].first),
                         static_cast<std::size_t>(path[k].second - path[k].first));
            const int32_t id = vocab.find(token);
            if (id >= 0) {
                out.push_back(id);
                continue;
            }
            if (byte_fallback) {
                bool all = true;
                for (unsigned char c : token)
                    all = all && byte_ids[c] >= 0;
                if (all) {
                    for (unsigned char c : token)
                        out.push_back(byte_ids[c]);
                    continue;
                }
            }
            // Without unk_id the crate fails the encode; sutra drops the characters.
            if (unk_id >= 0) out.push_back(unk_id);
        }
        if (best.capacity() > kKeepPositions) {
            best = {};
            path = {};
            unk = {};
        }
    }

    WordCache cache_;
};

}  // namespace

Result<std::unique_ptr<Model>> make_unigram_model(const json& j, const std::string& what) {
    if (!j.is_object()) return make_error(Errc::bad_format, what + ": must be a JSON object");
    auto model = std::make_unique<UnigramModel>();
    const auto vit = j.find("vocab");
    if (vit == j.end() || !vit->is_array())
        return make_error(Errc::bad_format,
                          what + ": a Unigram model needs an array \"vocab\" of [piece, score]");
    if (vit->empty())
        return make_error(Errc::bad_format, what +
                                                ".vocab: is empty (a Unigram model needs "
                                                "at least one piece)");
    if (static_cast<int64_t>(vit->size()) > kMaxTokenId + 1)
        return make_error(Errc::too_large, what + ".vocab: " + std::to_string(vit->size()) +
                                               " pieces exceed the limit of " +
                                               std::to_string(kMaxTokenId + 1));
    model->vocab.reserve(vit->size());
    model->scores.reserve(vit->size());
    double min_score = std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < vit->size(); ++k) {
        const json& e = (*vit)[k];
        std::string piece;
        double score = 0.0;
        if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_number() &&
            std::isfinite(e[1].get<double>())) {
            piece = e[0].get<std::string>();
            score = e[1].get<double>();
        } else {
            const std::string field = what + ".vocab[" + std::to_string(k) + "]";
            if (!e.is_array() || e.size() != 2)
                return json_field_error(field, "must be a pair [piece, score]");
            SUTRA_ASSIGN(piece, json_string_value(e[0], field + "[0]"));
            SUTRA_ASSIGN(score, json_number_value(e[1], field + "[1]"));
        }
        if (score < min_score) min_score = score;
        model->scores.push_back(score);
        model->vocab.add(std::move(piece), static_cast<int32_t>(k));
    }
    SUTRA_TRY(model->vocab.finish(what + ".vocab"));
    model->unk_score = min_score - kUnkPenalty;

    SUTRA_ASSIGN(auto unk, json_optional_int(j, "unk_id", 0, kMaxTokenId, what));
    if (unk) {
        if (*unk >= static_cast<int64_t>(vit->size()))
            return json_field_error(what + ".unk_id", std::to_string(*unk) +
                                                          " is past the vocabulary (" +
                                                          std::to_string(vit->size()) + " pieces)");
        model->unk_id = static_cast<int32_t>(*unk);
    }
    SUTRA_ASSIGN(model->byte_fallback, get_bool(j, "byte_fallback", false, what));
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        model->byte_ids[static_cast<std::size_t>(b)] = model->vocab.find(name);
    }

    model->node_id.push_back(-1);  // the root
    std::size_t bytes = 0;
    for (std::size_t k = 0; k < model->vocab.size(); ++k)
        bytes += model->vocab.token_at(k).size();
    model->trie.reserve(bytes);
    for (std::size_t k = 0; k < model->vocab.size(); ++k)
        model->add_to_trie(model->vocab.token_at(k), model->vocab.id_at(k));
    return std::unique_ptr<Model>(std::move(model));
}

}  // namespace sutra::tokenize
