#pragma once
// The token <-> id table of a tokenizer.json model. Ids are unique and in [0, kMaxTokenId];
// a token string may appear twice (a Unigram vocabulary can list a piece twice), in which
// case looking it up gives the id added last, as the crate's HashMap insert does.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sutra/base/error.hpp"

namespace sutra::tokenize {

// Ids at or past 2^24 are refused: real vocabularies have at most a few hundred thousand
// tokens, and every consumer sizes tables by the largest id.
inline constexpr int64_t kMaxTokenId = (int64_t{1} << 24) - 1;

class Vocabulary {
  public:
    Vocabulary() = default;
    // The lookup table points into the token storage: movable, not copyable.
    Vocabulary(Vocabulary&&) = default;
    Vocabulary& operator=(Vocabulary&&) = default;
    Vocabulary(const Vocabulary&) = delete;
    Vocabulary& operator=(const Vocabulary&) = delete;

    void reserve(std::size_t n);
    // Adds an entry (before finish()); `id` must be in [0, kMaxTokenId].
    void add(std::string token, int32_t id);
    // Builds the lookup tables. bad_format "what: id N is given to both "a" and "b"" when an
    // id repeats. Call once, after the last add().
    Status finish(const std::string& what);

    // The id of `token`, or -1.
    int32_t find(std::string_view token) const;
    // The token of `id`, or nullptr.
    const std::string* token(int32_t id) const;

    std::size_t size() const { return tokens_.size(); }  // entries
    int64_t id_limit() const { return max_id_ + 1; }     // largest id + 1 (0 when empty)
    const std::string& token_at(std::size_t i) const { return tokens_[i]; }
    int32_t id_at(std::size_t i) const { return ids_[i]; }

  private:
    std::vector<std::string> tokens_;
    std::vector<int32_t> ids_;
    // token -> entry: open addressing on an XXH3 hash; a slot holds the hash's high half (to
    // skip most string compares) and the entry index, -1 when empty.
    struct Slot {
        uint32_t tag;
        int32_t entry;
    };
    std::vector<Slot> slots_;
    std::size_t mask_ = 0;
    // id -> entry index: a dense table when the ids are nearly contiguous, else a hash map.
    std::vector<int32_t> dense_;
    std::unordered_map<int32_t, int32_t> sparse_;
    int64_t max_id_ = -1;
};

}  // namespace sutra::tokenize
