#pragma once
// SentencePiece's compiled normalization rules (`precompiled_charsmap` of a Hugging Face
// "Precompiled" normalizer; `normalizer_spec.precompiled_charsmap` of a .model file), read
// and applied as the `tokenizers` crate does (its spm_precompiled dependency).
//
// Layout of the blob (all little-endian):
//   u32 trie_bytes                      size of the trie that follows, a multiple of 4
//   u32 units[trie_bytes / 4]           a Darts-clone double-array trie over UTF-8 bytes
//   char pool[]                         NUL-terminated replacement strings (UTF-8)
// A trie unit: bits 0-7 label (bit 31 also set on a value unit), bit 8 "has a value child",
// bits 10-31 offset, shifted left by 8 when bit 9 is set; a value unit's low 31 bits are a
// byte offset into the pool. A rule maps the key (a byte string) to the pool string at that
// offset, up to its NUL.
//
// Normalizing (the crate's Precompiled::normalize): the text is cut into extended grapheme
// clusters. A cluster shorter than 6 bytes that has a rule for one of its prefixes is
// replaced as a whole by the rule of its *shortest* such prefix; otherwise each code point of
// the cluster is replaced by its own rule's string, or kept when it has none.
//
// The blob is untrusted: parse() checks its framing, and every trie or pool access is
// bounds-checked, a broken link acting as "no rule" (never an out-of-bounds read).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"

namespace sutra::tokenize {

class PrecompiledCharsMap {
  public:
    // Errc::bad_format (naming `what`) when the blob is shorter than its header, the trie
    // size is not a multiple of 4, runs past the end or is empty, or the pool is not UTF-8.
    static Result<PrecompiledCharsMap> parse(std::span<const uint8_t> blob,
                                             const std::string& what);

    // The replacement of the shortest prefix of `key` that has a rule (stopping at a NUL
    // byte), or nullopt when none has one.
    std::optional<std::string_view> transform(std::string_view key) const;

    // Normalizes valid UTF-8 `text` as described above.
    std::string normalize(std::string_view text) const;

    std::size_t trie_units() const { return units_.size(); }

  private:
    std::vector<uint32_t> units_;
    std::string pool_;
};

// Decodes standard base64 (RFC 4648 alphabet, '=' padding optional, no whitespace).
// Errc::bad_format naming `what` on any other character or a truncated quantum.
Result<std::vector<uint8_t>> decode_base64(std::string_view text, const std::string& what);

}  // namespace sutra::tokenize
