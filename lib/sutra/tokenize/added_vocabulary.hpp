#pragma once
// The "added_tokens" of tokenizer.json: special tokens (<s>, <|im_start|>) and other added
// tokens (Qwen's <think>, GPT-NeoX's runs of spaces), found in the text before the model
// runs, as the `tokenizers` crate's AddedVocabulary does:
//   - ids are assigned as the crate assigns them, not read from the file's "id": a token
//     whose content is in the model vocabulary gets that id, any other the next id after
//     the model vocabulary and the added tokens so far (the crate only warns when this
//     differs from "id");
//   - tokens with normalized = false are matched on the raw text (split_raw), the others on
//     the normalized text, against their own normalized content (split_normalized);
//   - matching is leftmost-longest and non-overlapping; single_word needs a non-word
//     character (or the text's end) on both sides; lstrip/rstrip take the whitespace on
//     that side into the token;
//   - the added tokens take precedence over the model for id <-> token; token_to_id takes
//     the content as written, id_to_token gives it normalized for normalized = true tokens
//     (a special token with normalized = true is then not skipped by decode, as in 0.23).
// Text that spells a token becomes that token whether or not special tokens are added.
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/tokenize/pair_map.hpp"
#include "sutra/tokenize/pipeline.hpp"

namespace sutra::tokenize {

struct AddedToken {
    std::string content;
    bool single_word = false;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = true;
    bool special = false;
    // What id_to_token gives: the content, normalized when `normalized` (as crate 0.23 does).
    std::string text;
};

class AddedVocabulary {
  public:
    // `list` is the "added_tokens" array (nullptr or null: none), `what` its path
    // ("tokenizer.json: added_tokens"). The normalizer (may be null) normalizes the content
    // of tokens with normalized = true.
    static Result<AddedVocabulary> parse(const nlohmann::json* list, const Model& model,
                                         const Normalizer* normalizer, const std::string& what);

    // Splits every text piece (id < 0) around the tokens matched on raw text / on
    // normalized text. Token pieces get the token's id; empty pieces are dropped; a
    // sub-piece keeps `first` when its parent had it and it starts at the parent's start.
    void split_raw(std::vector<Piece>& pieces) const { split(pieces, raw_); }
    void split_normalized(std::vector<Piece>& pieces) const { split(pieces, normalized_); }

    int32_t token_to_id(std::string_view content) const;  // -1 when not an added token
    const std::string* id_to_token(int32_t id) const;     // nullptr when not an added token
    bool is_special(std::string_view content) const {
        return special_set_.find(content) != special_set_.end();
    }
    // Largest id + 1 over the added tokens (0 when there are none).
    int64_t id_limit() const { return id_limit_; }
    std::size_t size() const { return by_content_.size(); }

  private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const {
            return std::hash<std::string_view>{}(s);
        }
    };
    // A byte trie over the patterns of one matching pass.
    struct Matcher {
        PairMap trie;                   // pack(node, byte) -> child node; 0 is the root
        std::vector<int32_t> token_id;  // node -> id of the token ending there, or -1
        bool first_byte[256] = {};      // a pattern starts with this byte
        void add(std::string_view pattern, int32_t id);
    };
    void split(std::vector<Piece>& pieces, const Matcher& m) const;
    void split_one(const Piece& piece, const Matcher& m, std::vector<Piece>& out) const;

    std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> by_content_;
    std::unordered_map<int32_t, AddedToken> by_id_;
    std::unordered_set<std::string, Hash, std::equal_to<>> special_set_;
    Matcher raw_;
    Matcher normalized_;
    int64_t id_limit_ = 0;
};

}  // namespace sutra::tokenize
