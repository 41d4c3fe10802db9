#pragma once
// A bounded, thread-safe cache from a pre-tokenized word to its ids, for the models: text
// repeats the same words, and merging (BPE) or a Viterbi search (Unigram) per word costs far
// more than a lookup. Like the crate's cache it never evicts: once full, new words are not
// added. Words longer than kMaxWordBytes are not cached. The result of a model does not
// depend on the cache.
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sutra::tokenize {

class WordCache {
  public:
    static constexpr std::size_t kMaxWordBytes = 128;
    static constexpr std::size_t kShards = 16;

    explicit WordCache(std::size_t capacity = 32768) : per_shard_(capacity / kShards) {}

    // Appends the cached ids of `word` to `out`; false (nothing appended) on a miss.
    bool get(std::string_view word, std::vector<int32_t>& out) const {
        if (word.size() > kMaxWordBytes || per_shard_ == 0) return false;
        const std::size_t h = std::hash<std::string_view>{}(word);
        Shard& s = shards_[h % kShards];
        std::lock_guard<std::mutex> lock(s.mutex);
        const auto it = s.map.find(word);
        if (it == s.map.end()) return false;
        out.insert(out.end(), it->second.begin(), it->second.end());
        return true;
    }

    void put(std::string_view word, const int32_t* ids, std::size_t n) const {
        if (word.size() > kMaxWordBytes || per_shard_ == 0) return;
        const std::size_t h = std::hash<std::string_view>{}(word);
        Shard& s = shards_[h % kShards];
        std::lock_guard<std::mutex> lock(s.mutex);
        if (s.map.size() >= per_shard_) return;
        s.map.emplace(std::string(word), std::vector<int32_t>(ids, ids + n));
    }

  private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const {
            return std::hash<std::string_view>{}(s);
        }
    };
    struct Shard {
        std::mutex mutex;
        std::unordered_map<std::string, std::vector<int32_t>, Hash, std::equal_to<>> map;
    };
    std::size_t per_shard_;
    mutable std::array<Shard, kShards> shards_;
};

}  // namespace sutra::tokenize
