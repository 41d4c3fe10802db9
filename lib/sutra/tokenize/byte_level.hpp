#pragma once
// GPT-2's byte <-> character table (bytes_to_unicode in OpenAI's encoder.py, and the
// `tokenizers` crate's ByteLevel): every byte gets a printable character, so that any byte
// string can be spelled as text. The printable bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF map
// to the character of the same value; the 68 others, in increasing order, to U+0100, U+0101,
// ... (space 0x20 becomes U+0120 'Ġ', newline 0x0A becomes U+010A 'Ċ').
#include <cstdint>
#include <string>
#include <string_view>

namespace sutra::tokenize {

// The character byte `b` is spelled with.
char32_t byte_to_unicode(uint8_t b);

// The byte spelled by `cp`, or -1 when `cp` is not in the table.
int unicode_to_byte(char32_t cp);

// Every byte of `bytes` spelled with its character, as UTF-8.
std::string byte_level_encode(std::string_view bytes);

}  // namespace sutra::tokenize
