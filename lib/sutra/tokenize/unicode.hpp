#pragma once
// Unicode helpers for the tokenizer pipeline, on ICU's tables (no hand-written Unicode data):
// UTF-8 decoding, the four normalization forms, lowercasing as Rust's `char::to_lowercase`,
// grapheme clusters, and the character classes that the Hugging Face `tokenizers` crate's
// normalizers and pre-tokenizers test (each documented with the Rust function it mirrors).
//
// Functions taking text expect valid UTF-8 unless they say otherwise; the ones that must
// cope with anything (is_valid_utf8, to_valid_utf8) say so.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sutra::tokenize {

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool is_valid_utf8(std::string_view text);

// `text` with every ill-formed sequence replaced by U+FFFD, as Rust's
// String::from_utf8_lossy does (maximal subparts, one U+FFFD each). Valid text is returned
// unchanged.
std::string to_valid_utf8(std::string_view text);

// Decodes the code point starting at byte `i` (< text.size()) of `text` and moves `i` past
// it. On an ill-formed sequence it returns U+FFFD and skips the sequence's maximal subpart
// (at least one byte), as to_valid_utf8 does; it never reads past the end.
char32_t next_code_point(std::string_view text, std::size_t& i);

// The byte length of the UTF-8 sequence that `lead` starts (1 for a stray byte).
std::size_t utf8_sequence_length(unsigned char lead);

// Appends `cp` as UTF-8 (U+FFFD for a surrogate or a value above U+10FFFF).
void append_utf8(std::string& out, char32_t cp);

// The number of code points of valid UTF-8 `text`.
std::size_t count_code_points(std::string_view text);

enum class NormalForm { nfc, nfd, nfkc, nfkd };

// Unicode normalization (ICU Normalizer2). Ill-formed input is first made valid with
// to_valid_utf8.
std::string normalize_unicode(std::string_view text, NormalForm form);

// Lowercases code point by code point with the full (unconditional) mappings, as the crate's
// NormalizedString::lowercase does with Rust's `char::to_lowercase`: no context-dependent
// rules (a final capital sigma becomes U+03C3, not U+03C2), U+0130 becomes "i\u0307".
std::string to_lower(std::string_view text);

// Byte offsets of the extended grapheme cluster boundaries of valid UTF-8 `text` (ICU
// character break iterator, root locale), starting with 0 and ending with text.size(); {0}
// for empty text.
std::vector<std::size_t> grapheme_boundaries(std::string_view text);

// Rust `char::is_whitespace`: the Unicode White_Space property.
bool is_whitespace(char32_t cp);
// The crate's `is_punctuation` (unicode_categories): general category P* (Pc Pd Ps Pe Pi Pf Po).
bool is_punctuation(char32_t cp);
// Rust `char::is_ascii_punctuation`: ASCII !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~.
bool is_ascii_punctuation(char32_t cp);
// Rust `char::is_numeric`: general category Nd, Nl or No.
bool is_numeric(char32_t cp);
// Rust `char::is_alphabetic`: the Alphabetic property.
bool is_alphabetic(char32_t cp);
// Rust `char::is_alphanumeric`: is_alphabetic or is_numeric.
bool is_alphanumeric(char32_t cp);
// unicode_normalization's `is_combining_mark`: general category M* (Mn Mc Me).
bool is_combining_mark(char32_t cp);
// unicode_categories' `is_mark_nonspacing`: general category Mn.
bool is_mark_nonspacing(char32_t cp);
// unicode_categories' `is_other`: general category C* (Cc Cf Cs Co Cn).
bool is_other(char32_t cp);
// `\w` of the Rust regex crate: Alphabetic, M*, Nd, Pc or Join_Control.
bool is_regex_word(char32_t cp);

}  // namespace sutra::tokenize
