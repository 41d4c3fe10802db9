#include "sutra/tokenize/unicode.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace tk = sutra::tokenize;
using Bounds = std::vector<std::size_t>;

TEST_CASE("unicode: UTF-8 validation and lossy repair as Rust's from_utf8_lossy", "[tokenize]") {
    CHECK(tk::is_valid_utf8(""));
    CHECK(tk::is_valid_utf8("a\xC3\xA9\xE2\x96\x81\xF0\x9F\x98\x80"));
    CHECK_FALSE(tk::is_valid_utf8("\xC0\xAF"));          // overlong
    CHECK_FALSE(tk::is_valid_utf8("\xED\xA0\x80"));      // surrogate
    CHECK_FALSE(tk::is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
    CHECK_FALSE(tk::is_valid_utf8("\xE2\x96"));          // truncated
    const std::string fffd = "\xEF\xBF\xBD";
    CHECK(tk::to_valid_utf8("ok") == "ok");
    CHECK(tk::to_valid_utf8("a\xF0\x9F\x98") == "a" + fffd);  // one maximal subpart
    CHECK(tk::to_valid_utf8("\xED\xA0\x80") == fffd + fffd + fffd);
    CHECK(tk::to_valid_utf8("\xFF"
                            "a\x80") == fffd + "a" + fffd);
    std::size_t i = 0;
    CHECK(tk::next_code_point("\xF0\x9F\x98", i) == 0xFFFD);
    CHECK(i == 3);
    i = 0;
    CHECK(tk::next_code_point("\xE2\x96\x81x", i) == 0x2581);
    CHECK(i == 3);
    std::string s;
    tk::append_utf8(s, 0x1F600);
    tk::append_utf8(s, 0xD800);
    CHECK(s == "\xF0\x9F\x98\x80" + fffd);
    CHECK(tk::count_code_points("a\xC3\xA9\xF0\x9F\x98\x80") == 3);
}

TEST_CASE("unicode: normalization forms", "[tokenize]") {
    using tk::NormalForm;
    CHECK(tk::normalize_unicode("e\xCC\x81", NormalForm::nfc) == "\xC3\xA9");
    CHECK(tk::normalize_unicode("\xC3\xA9", NormalForm::nfd) == "e\xCC\x81");
    CHECK(tk::normalize_unicode("\xE2\x84\xAB", NormalForm::nfc) == "\xC3\x85");  // U+212B
    CHECK(tk::normalize_unicode("\xEF\xAC\x81", NormalForm::nfc) == "\xEF\xAC\x81");
    CHECK(tk::normalize_unicode("\xEF\xAC\x81", NormalForm::nfkc) == "fi");
    CHECK(tk::normalize_unicode("\xC2\xBD", NormalForm::nfkd) ==
          "1\xE2\x81\x84"
          "2");
    CHECK(tk::normalize_unicode("plain", NormalForm::nfkd) == "plain");
    CHECK(tk::normalize_unicode("a\xFF", NormalForm::nfc) == "a\xEF\xBF\xBD");
}

TEST_CASE("unicode: extended grapheme clusters", "[tokenize]") {
    CHECK(tk::grapheme_boundaries("") == Bounds{0});
    CHECK(tk::grapheme_boundaries("ab") == Bounds{0, 1, 2});
    CHECK(tk::grapheme_boundaries("e\xCC\x81x") == Bounds{0, 3, 4});
    CHECK(tk::grapheme_boundaries("\r\n\n") == Bounds{0, 2, 3});
    // A flag (two regional indicators) and a ZWJ family are one cluster each.
    CHECK(tk::grapheme_boundaries("\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5") == Bounds{0, 8});
    CHECK(tk::grapheme_boundaries("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9z") ==
          Bounds{0, 11, 12});
    // Hangul jamo L V T.
    CHECK(tk::grapheme_boundaries("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8") == Bounds{0, 9});
}

TEST_CASE("unicode: character classes as the Rust functions the crate calls", "[tokenize]") {
    // char::is_whitespace = White_Space.
    for (char32_t c : {U' ', U'\t', U'\n', U'\r', U'\v', U'\f', char32_t{0x85}, char32_t{0xA0},
                       char32_t{0x1680}, char32_t{0x2000}, char32_t{0x2028}, char32_t{0x3000}})
        CHECK(tk::is_whitespace(c));
    for (char32_t c : {U'a', char32_t{0x200B}, char32_t{0xFEFF}, char32_t{0x180E}, U'\0'})
        CHECK_FALSE(tk::is_whitespace(c));
    // is_punctuation = P*; ASCII punctuation also has symbols.
    CHECK(tk::is_punctuation(U'!'));
    CHECK(tk::is_punctuation(U'_'));
    CHECK(tk::is_punctuation(char32_t{0x2014}));  // em dash
    CHECK(tk::is_punctuation(char32_t{0xBF}));    // inverted question mark
    CHECK_FALSE(tk::is_punctuation(U'$'));
    CHECK_FALSE(tk::is_punctuation(U'+'));
    CHECK(tk::is_ascii_punctuation(U'$'));
    CHECK(tk::is_ascii_punctuation(U'~'));
    CHECK_FALSE(tk::is_ascii_punctuation(char32_t{0x2014}));
    // is_numeric = Nd, Nl, No.
    for (char32_t c : {U'7', char32_t{0x663}, char32_t{0xBD}, char32_t{0x2167}, char32_t{0x2460}})
        CHECK(tk::is_numeric(c));
    CHECK_FALSE(tk::is_numeric(U'x'));
    CHECK(tk::is_alphabetic(char32_t{0x65E5}));
    CHECK(tk::is_alphabetic(char32_t{0x2167}));  // Roman numeral eight: Nl is Alphabetic
    CHECK(tk::is_alphanumeric(U'5'));
    CHECK_FALSE(tk::is_alphanumeric(U'-'));
    CHECK(tk::is_combining_mark(char32_t{0x301}));
    CHECK(tk::is_combining_mark(char32_t{0x903}));  // Mc
    CHECK(tk::is_mark_nonspacing(char32_t{0x301}));
    CHECK_FALSE(tk::is_mark_nonspacing(char32_t{0x903}));
    CHECK(tk::is_other(char32_t{0x7}));
    CHECK(tk::is_other(char32_t{0x200B}));  // Cf
    CHECK(tk::is_other(char32_t{0xE000}));  // Co
    CHECK_FALSE(tk::is_other(U'a'));
    // The regex crate's \w: letters, marks, decimal digits, connectors, joiners.
    for (char32_t c : {U'a', U'_', U'9', char32_t{0x301}, char32_t{0x200D}, char32_t{0x2167}})
        CHECK(tk::is_regex_word(c));
    for (char32_t c : {U'-', U' ', char32_t{0xBD}})
        CHECK_FALSE(tk::is_regex_word(c));
}
