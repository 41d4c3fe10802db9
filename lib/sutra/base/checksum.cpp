#include "sutra/base/checksum.hpp"

#include <xxhash.h>

namespace sutra {

struct Hasher::State {
    XXH3_state_t* st = nullptr;
};

Hasher::Hasher() : s_(std::make_unique<State>()) {
    s_->st = XXH3_createState();
    XXH3_64bits_reset(s_->st);
}
Hasher::~Hasher() {
    if (s_ && s_->st) XXH3_freeState(s_->st);
}
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&& o) noexcept {
    if (this != &o) {
        if (s_ && s_->st) XXH3_freeState(s_->st);
        s_ = std::move(o.s_);
    }
    return *this;
}

void Hasher::update(std::span<const uint8_t> bytes) {
    XXH3_64bits_update(s_->st, bytes.data(), bytes.size());
}
uint64_t Hasher::digest() const {
    return XXH3_64bits_digest(s_->st);
}

uint64_t xxh3_64(std::span<const uint8_t> bytes) {
    return XXH3_64bits(bytes.data(), bytes.size());
}

std::string hex64(uint64_t v) {
    static const char* d = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i) {
        s[static_cast<size_t>(i)] = d[v & 0xf];
        v >>= 4;
    }
    return s;
}

std::optional<uint64_t> parse_hex64(std::string_view s) {
    if (s.size() != 16) return std::nullopt;
    uint64_t v = 0;
    for (char c : s) {
        int x;
        if (c >= '0' && c <= '9')
            x = c - '0';
        else if (c >= 'a' && c <= 'f')
            x = c - 'a' + 10;
        else
            return std::nullopt;
        v = (v << 4) | static_cast<uint64_t>(x);
    }
    return v;
}

}  // namespace sutra
