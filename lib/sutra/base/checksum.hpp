#pragma once
// XXH3-64 (xxhash, seed 0) checksums, streamed, and their text form: 16 lowercase hex digits.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sutra {

class Hasher {
  public:
    Hasher();
    ~Hasher();
    Hasher(Hasher&&) noexcept;
    Hasher& operator=(Hasher&&) noexcept;
    void update(std::span<const uint8_t> bytes);
    uint64_t digest() const;

  private:
    struct State;
    std::unique_ptr<State> s_;
};

uint64_t xxh3_64(std::span<const uint8_t> bytes);
std::string hex64(uint64_t v);
std::optional<uint64_t> parse_hex64(std::string_view s);  // exactly 16 lowercase hex digits

}  // namespace sutra
