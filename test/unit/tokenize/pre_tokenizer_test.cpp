#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sutra/tokenize/byte_level.hpp"
#include "sutra/tokenize/pipeline.hpp"
#include "unit/tokenize/reference_support.hpp"

using nlohmann::json;
using sutra::Errc;
using sutra::tokenize::make_pre_tokenizer;
using sutra::tokenize::Piece;
namespace ref = sutra::test::tokenize;

using Strings = std::vector<std::string>;

namespace {

std::vector<Piece> run(const json& config, std::vector<Piece> pieces) {
    auto p = make_pre_tokenizer(config, "pre_tokenizer");
    INFO(config.dump());
    REQUIRE(p.ok());
    (*p)->pre_tokenize(pieces);
    return pieces;
}

Strings split(const json& config, const std::string& text) {
    Strings out;
    for (const Piece& p : run(config, {Piece{text, -1, true}}))
        out.push_back(p.text);
    return out;
}

json split_on(const json& pattern, const char* behavior, bool invert = false) {
    return {{"type", "Split"}, {"pattern", pattern}, {"behavior", behavior}, {"invert", invert}};
}

const std::string kMeta = "\xE2\x96\x81";  // U+2581

}  // namespace

TEST_CASE("pre_tokenizer: Split behaviors on the crate's documented example", "[tokenize]") {
    // SplitDelimiterBehavior's documentation (tokenizers/src/tokenizer/normalizer.rs).
    const json dash = {{"String", "-"}};
    const std::string text = "the-final--countdown";
    CHECK(split(split_on(dash, "Removed"), text) == Strings{"the", "final", "countdown"});
    CHECK(split(split_on(dash, "Isolated"), text) ==
          Strings{"the", "-", "final", "-", "-", "countdown"});
    CHECK(split(split_on(dash, "MergedWithPrevious"), text) ==
          Strings{"the-", "final-", "-", "countdown"});
    CHECK(split(split_on(dash, "MergedWithNext"), text) ==
          Strings{"the", "-final", "-", "-countdown"});
    CHECK(split(split_on(dash, "Contiguous"), text) ==
          Strings{"the", "-", "final", "--", "countdown"});
}

TEST_CASE("pre_tokenizer: Split with an inverted regex, as the crate's split.rs test",
          "[tokenize]") {
    const json words = {{"Regex", "\\w+|[^\\w\\s]+"}};
    const std::string text = "How are you doing?";
    CHECK(split(split_on(words, "Removed", true), text) ==
          Strings{"How", "are", "you", "doing", "?"});
    CHECK(split(split_on(words, "Isolated", true), text) ==
          Strings{"How", " ", "are", " ", "you", " ", "doing", "?"});
    CHECK(split(split_on(words, "MergedWithPrevious", true), text) ==
          Strings{"How ", "are ", "you ", "doing", "?"});
    CHECK(split(split_on(words, "MergedWithNext", true), text) ==
          Strings{"How", " are", " you", " doing", "?"});
    CHECK(split(split_on(words, "Contiguous", true), text) ==
          Strings{"How", " ", "are", " ", "you", " ", "doing?"});
}

TEST_CASE("pre_tokenizer: Metaspace, as the crate's metaspace.rs tests", "[tokenize]") {
    const json always = {{"type", "Metaspace"},
                         {"replacement", kMeta},
                         {"prepend_scheme", "always"},
                         {"split", true}};
    CHECK(split(always, "Hey friend!") == Strings{kMeta + "Hey", kMeta + "friend!"});
    CHECK(split(always, "Hey   friend!") ==
          Strings{kMeta + "Hey", kMeta, kMeta, kMeta + "friend!"});
    // "first": only the piece at offset 0 of the input gets the prefix.
    const json first = {{"type", "Metaspace"},
                        {"replacement", kMeta},
                        {"prepend_scheme", "first"},
                        {"split", false}};
    const auto pieces =
        run(first, {Piece{" Hey ", -1, true}, Piece{"<s>", 1, false}, Piece{"how", -1, false}});
    REQUIRE(pieces.size() == 3);
    CHECK(pieces[0].text == kMeta + "Hey" + kMeta);
    CHECK(pieces[1].text == "<s>");
    CHECK(pieces[1].id == 1);
    CHECK(pieces[2].text == "how");
    // The legacy key: add_prefix_space false must come with prepend_scheme "never".
    const json legacy = {
        {"type", "Metaspace"}, {"replacement", kMeta}, {"add_prefix_space", false}};
    auto refused = make_pre_tokenizer(legacy, "pre_tokenizer");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::bad_format);
    json legacy_never = legacy;
    legacy_never["prepend_scheme"] = "never";
    CHECK(split(legacy_never, "a b") == Strings{"a", kMeta + "b"});
}

TEST_CASE("pre_tokenizer: ByteLevel, as the crate's byte_level.rs tests", "[tokenize]") {
    const json no_prefix = {{"type", "ByteLevel"},
                            {"add_prefix_space", false},
                            {"trim_offsets", true},
                            {"use_regex", true}};
    const std::string G = "\xC4\xA0";  // U+0120, the byte-level space
    CHECK(split(no_prefix, "Hello my friend, how is your day going?") ==
          Strings{"Hello", G + "my", G + "friend", ",", G + "how", G + "is", G + "your", G + "day",
                  G + "going", "?"});
    CHECK(split(no_prefix, "Hello there\nHello there") ==
          Strings{"Hello", G + "there", "\xC4\x8A", "Hello", G + "there"});
    CHECK(split(no_prefix, "Hello there       dear") ==
          Strings{"Hello", G + "there", G + G + G + G + G + G, G + "dear"});
    // i U+2B62 j: the arrow's three bytes each become a character.
    CHECK(split(no_prefix, "i\xE2\xAD\xA2j") == Strings{"i", "\xC3\xA2\xC5\x83\xC2\xA2", "j"});
    const json prefix_no_regex = {{"type", "ByteLevel"},
                                  {"add_prefix_space", true},
                                  {"trim_offsets", true},
                                  {"use_regex", false}};
    CHECK(split(prefix_no_regex, "Hello my friend,") ==
          Strings{G + "Hello" + G + "my" + G + "friend,"});
    // add_prefix_space applies to every text piece that does not start with a space.
    const json prefix = {{"type", "ByteLevel"}, {"add_prefix_space", true}};
    const auto pieces = run(prefix, {Piece{"a", -1, true}, Piece{"<x>", 5, false},
                                     Piece{" b", -1, false}, Piece{"c", -1, false}});
    Strings texts;
    for (const auto& p : pieces)
        texts.push_back(p.text);
    CHECK(texts == Strings{G + "a", "<x>", G + "b", G + "c"});
}

TEST_CASE("pre_tokenizer: the GPT-2 byte table", "[tokenize]") {
    using sutra::tokenize::byte_to_unicode;
    using sutra::tokenize::unicode_to_byte;
    CHECK(byte_to_unicode('A') == U'A');
    CHECK(byte_to_unicode(' ') == 0x120);
    CHECK(byte_to_unicode('\n') == 0x10A);
    CHECK(byte_to_unicode(0x00) == 0x100);
    CHECK(byte_to_unicode(0x7F) == 0x121);
    CHECK(byte_to_unicode(0xAD) == 0x143);
    CHECK(byte_to_unicode(0xFF) == 0xFF);
    for (int b = 0; b < 256; ++b)
        CHECK(unicode_to_byte(byte_to_unicode(static_cast<uint8_t>(b))) == b);
    CHECK(unicode_to_byte(U'\xAD') == -1);
    CHECK(unicode_to_byte(0x144) == -1);
    CHECK(unicode_to_byte(U' ') == -1);
}

TEST_CASE("pre_tokenizer: Whitespace, WhitespaceSplit, Digits, Punctuation, BertPreTokenizer",
          "[tokenize]") {
    CHECK(split({{"type", "Whitespace"}}, "Hey man!") == Strings{"Hey", "man", "!"});
    CHECK(split({{"type", "Whitespace"}}, "\n").empty());
    CHECK(split({{"type", "WhitespaceSplit"}}, "Hey, man, Good?") ==
          Strings{"Hey,", "man,", "Good?"});
    CHECK(split({{"type", "Digits"}, {"individual_digits", false}}, "Hey 123 friend!") ==
          Strings{"Hey ", "123", " friend!"});
    CHECK(split({{"type", "Digits"}, {"individual_digits", true}}, "Hey 123 friend!") ==
          Strings{"Hey ", "1", "2", "3", " friend!"});
    CHECK(split({{"type", "Punctuation"}}, "Hey friend!     How are you?!?") ==
          Strings{"Hey friend", "!", "     How are you", "?", "!", "?"});
    CHECK(split({{"type", "BertPreTokenizer"}}, "Hey friend!     How are you?!?") ==
          Strings{"Hey", "friend", "!", "How", "are", "you", "?", "!", "?"});
}

TEST_CASE("pre_tokenizer: UnicodeScripts, as the crate's unicode_scripts tests", "[tokenize]") {
    const json scripts = {{"type", "UnicodeScripts"}};
    // "どこで生れ。Yes": kana count as Han, the ideographic full stop is Common.
    CHECK(split(scripts,
                "\xE3\x81\xA9\xE3\x81\x93\xE3\x81\xA7\xE7\x94\x9F\xE3\x82\x8C\xE3\x80\x82Yes") ==
          Strings{"\xE3\x81\xA9\xE3\x81\x93\xE3\x81\xA7\xE7\x94\x9F\xE3\x82\x8C", "\xE3\x80\x82",
                  "Yes"});
    // Spaces join the run they are in.
    CHECK(split(scripts,
                "Apples are \xE3\x82\x8A\xE3\x82\x93\xE3\x81\x94 \xE6\x9E\x97\xE6\xAA\x8E") ==
          Strings{"Apples are ", "\xE3\x82\x8A\xE3\x82\x93\xE3\x81\x94 \xE6\x9E\x97\xE6\xAA\x8E"});
    // Leading spaces belong to no run and are dropped, as in the crate.
    CHECK(split(scripts, "  ab 12") == Strings{"ab ", "12"});
    CHECK(split(scripts, "   ").empty());
}

TEST_CASE("pre_tokenizer: added-token pieces pass through, first marks offset 0", "[tokenize]") {
    const json ws = {{"type", "WhitespaceSplit"}};
    const auto pieces = run(ws, {Piece{"a b", -1, true}, Piece{"<t>", 7, false},
                                 Piece{"", -1, false}, Piece{" c", -1, false}});
    REQUIRE(pieces.size() == 4);
    CHECK(pieces[0].text == "a");
    CHECK(pieces[0].first);
    CHECK(pieces[1].text == "b");
    CHECK_FALSE(pieces[1].first);
    CHECK(pieces[2].id == 7);
    CHECK(pieces[3].text == "c");
    CHECK_FALSE(pieces[3].first);
}

TEST_CASE("pre_tokenizer: unknown and malformed configurations are refused", "[tokenize]") {
    auto unknown =
        make_pre_tokenizer({{"type", "UnicodeScripts2"}}, "tokenizer.json: pre_tokenizer");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == Errc::unsupported);
    CHECK_THAT(unknown.error().message,
               Catch::Contains("UnicodeScripts2") && Catch::Contains("Metaspace"));
    CHECK(
        make_pre_tokenizer({{"type", "Split"}, {"pattern", {{"String", "-"}}}}, "p").error().code ==
        Errc::bad_format);  // no behavior
    CHECK(make_pre_tokenizer(split_on({{"String", "-"}}, "Sideways"), "p").error().code ==
          Errc::bad_format);
    CHECK(make_pre_tokenizer(split_on({{"Regex", "[a-"}}, "Isolated"), "p").error().code ==
          Errc::bad_format);
    CHECK(make_pre_tokenizer({{"type", "Metaspace"}, {"replacement", "ab"}}, "p").error().code ==
          Errc::bad_format);
    CHECK(make_pre_tokenizer({{"type", "Metaspace"}, {"replacement", "_"}, {"prepend_scheme", "x"}},
                             "p")
              .error()
              .code == Errc::bad_format);
    CHECK(make_pre_tokenizer({{"type", "Sequence"}, {"pretokenizers", "no"}}, "p").error().code ==
          Errc::bad_format);
}

TEST_CASE("pre_tokenizer: matches the reference crate on the reference texts", "[tokenize]") {
    CHECK(ref::run_reference_cases(/*shared=*/false, /*pre_tokenizers=*/true) >= 30);
}

TEST_CASE("pre_tokenizer: the real files' pipelines match the reference crate",
          "[tokenize][shared]") {
    CHECK(ref::run_reference_cases(/*shared=*/true, /*pre_tokenizers=*/true) >= 5);
}

TEST_CASE("pre_tokenizer: ill-formed UTF-8 pieces do not crash", "[tokenize]") {
    const std::vector<json> configs = {{{"type", "ByteLevel"}},
                                       split_on({{"Regex", "\\p{L}+|x*"}}, "Isolated"),
                                       split_on({{"String", "-"}}, "MergedWithNext"),
                                       {{"type", "Metaspace"}, {"replacement", kMeta}},
                                       {{"type", "Whitespace"}},
                                       {{"type", "WhitespaceSplit"}},
                                       {{"type", "Punctuation"}},
                                       {{"type", "Digits"}, {"individual_digits", true}},
                                       {{"type", "BertPreTokenizer"}}};
    for (const auto& c : configs) {
        const auto pieces = run(c, {Piece{"a\xFF-b \xE2\x96 1\xED\xA0\x80", -1, true}});
        std::string joined;
        for (const auto& p : pieces)
            joined += p.text;
        CHECK_FALSE(joined.empty());
    }
}
