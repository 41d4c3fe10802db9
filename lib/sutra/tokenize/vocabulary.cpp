#include "sutra/tokenize/vocabulary.hpp"

#include <xxhash.h>

namespace sutra::tokenize {

void Vocabulary::reserve(std::size_t n) {
    tokens_.reserve(n);
    ids_.reserve(n);
}

void Vocabulary::add(std::string token, int32_t id) {
    tokens_.push_back(std::move(token));
    ids_.push_back(id);
    if (id > max_id_) max_id_ = id;
}

Status Vocabulary::finish(const std::string& what) {
    const std::size_t n = tokens_.size();
    std::size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    slots_.assign(cap, Slot{0, -1});
    mask_ = cap - 1;
    for (std::size_t i = 0; i < n; ++i) {
        const std::string& t = tokens_[i];
        const uint64_t h = XXH3_64bits(t.data(), t.size());
        const auto tag = static_cast<uint32_t>(h >> 32);
        for (std::size_t k = static_cast<std::size_t>(h) & mask_;; k = (k + 1) & mask_) {
            Slot& s = slots_[k];
            if (s.entry < 0) {
                s = Slot{tag, static_cast<int32_t>(i)};
                break;
            }
            if (s.tag == tag && tokens_[static_cast<std::size_t>(s.entry)] == t) {
                s.entry = static_cast<int32_t>(i);  // a repeated token: the later entry wins
                break;
            }
        }
    }
    auto duplicate = [&](std::size_t first, std::size_t second) {
        return make_error(Errc::bad_format, what + ": id " + std::to_string(ids_[second]) +
                                                " is given to both \"" + tokens_[first] +
                                                "\" and \"" + tokens_[second] + "\"");
    };
    const auto limit = static_cast<std::size_t>(max_id_ + 1);
    if (limit <= 2 * n + 1024) {
        dense_.assign(limit, -1);
        for (std::size_t i = 0; i < n; ++i) {
            int32_t& slot = dense_[static_cast<std::size_t>(ids_[i])];
            if (slot >= 0) return duplicate(static_cast<std::size_t>(slot), i);
            slot = static_cast<int32_t>(i);
        }
    } else {
        sparse_.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            const auto [it, inserted] = sparse_.emplace(ids_[i], static_cast<int32_t>(i));
            if (!inserted) return duplicate(static_cast<std::size_t>(it->second), i);
        }
    }
    return {};
}

int32_t Vocabulary::find(std::string_view token) const {
    if (slots_.empty()) return -1;
    const uint64_t h = XXH3_64bits(token.data(), token.size());
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (std::size_t k = static_cast<std::size_t>(h) & mask_;; k = (k + 1) & mask_) {
        const Slot& s = slots_[k];
        if (s.entry < 0) return -1;
        if (s.tag == tag && tokens_[static_cast<std::size_t>(s.entry)] == token)
            return ids_[static_cast<std::size_t>(s.entry)];
    }
}

const std::string* Vocabulary::token(int32_t id) const {
    if (id < 0) return nullptr;
    if (!dense_.empty() || sparse_.empty()) {
        if (static_cast<std::size_t>(id) >= dense_.size()) return nullptr;
        const int32_t slot = dense_[static_cast<std::size_t>(id)];
        return slot < 0 ? nullptr : &tokens_[static_cast<std::size_t>(slot)];
    }
    const auto it = sparse_.find(id);
    return it == sparse_.end() ? nullptr : &tokens_[static_cast<std::size_t>(it->second)];
}

}  // namespace sutra::tokenize
