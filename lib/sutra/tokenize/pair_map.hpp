#pragma once
// A fixed open-addressing hash table from 64-bit keys to 64-bit values, built once and then
// only read (safe from several threads). The BPE merge table (a pair of ids -> rank and new
// id) and the Unigram trie (node and byte -> child) are lookups of this kind on every
// character, where std::unordered_map's node chasing would dominate.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sutra::tokenize {

class PairMap {
  public:
    static constexpr uint64_t kEmpty = ~uint64_t{0};  // not a valid key

    // Room for `n` keys at a load factor of at most 1/2.
    void reserve(std::size_t n) {
        std::size_t cap = 16;
        while (cap < 2 * n)
            cap *= 2;
        slots_.assign(cap, Slot{kEmpty, 0});
        mask_ = cap - 1;
        size_ = 0;
    }
    // Inserts or overwrites (the later value wins, as a HashMap collected from a list).
    void put(uint64_t key, uint64_t value) {
        if (slots_.empty() || 2 * (size_ + 1) > slots_.size()) grow();
        Slot* s = probe(key);
        if (s->key == kEmpty) {
            s->key = key;
            ++size_;
        }
        s->value = value;
    }
    // The value of `key`, or nullptr.
    const uint64_t* find(uint64_t key) const {
        if (slots_.empty()) return nullptr;
        for (std::size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.key == key) return &s.value;
            if (s.key == kEmpty) return nullptr;
        }
    }
    std::size_t size() const { return size_; }

    static uint64_t pack(uint32_t hi, uint32_t lo) { return (uint64_t{hi} << 32) | lo; }

  private:
    struct Slot {
        uint64_t key;
        uint64_t value;
    };
    static std::size_t hash(uint64_t x) {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53ULL;
        x ^= x >> 33;
        return static_cast<std::size_t>(x);
    }
    Slot* probe(uint64_t key) {
        for (std::size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
            Slot& s = slots_[i];
            if (s.key == key || s.key == kEmpty) return &s;
        }
    }
    void grow() {
        std::vector<Slot> old = std::move(slots_);
        reserve(old.empty() ? 8 : old.size());
        for (const Slot& s : old)
            if (s.key != kEmpty) put(s.key, s.value);
    }

    std::vector<Slot> slots_;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

}  // namespace sutra::tokenize
