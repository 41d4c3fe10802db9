// Decoders (lib/sutra/tokenize/decoder.cpp). The expected texts come from the reference crate
// decoding the same ids with the same documents.
#include <catch2/catch.hpp>

#include "unit/tokenize/hf_test_support.hpp"

using namespace sutra::test::tokenize;
using sutra::Errc;

namespace {

// Ids of this vocabulary are what the decoders are given.
const char* kVocab = R"({"type": "BPE", "merges": [], "vocab": {"Hello": 0, "Ġworld": 1, "Ċ": 2,
    "âĤ": 3, "¬": 4, "ĠâĤ¬": 5, "plain": 6, "<0x41>": 7, "<0x+F>": 8, "<0xE2>": 9, "<0x82>": 10,
    "<0xAC>": 11, "▁a▁b": 12, "▁c": 13, "  x  ": 14, "x": 15, "|": 16, "<pad>": 17, "it": 18,
    "'s": 19, " .": 20, "e": 21}})";

std::string decode(const std::string& decoder, const Ids& ids) {
    const auto t = parse_ok(tokenizer_json(kVocab, "\"decoder\": " + decoder));
    return t->decode(ids, false);
}

}  // namespace

TEST_CASE("ByteLevel decoder", "[tokenize][decoder]") {
    const char* d = R"({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true})";
    // Tokens of byte characters become their bytes; others ("▁a▁b") are kept as they are.
    CHECK(decode(d, Ids{0, 1, 2, 3, 4, 5, 6, 12}) == "Hello world\n€ €plain▁a▁b");
    CHECK(decode(d, Ids{3}) == "\xEF\xBF\xBD");  // two bytes of a three-byte character
}

TEST_CASE("Metaspace decoder", "[tokenize][decoder]") {
    // In the first token every replacement character goes (not only the leading one).
    CHECK(decode(R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"})",
                 Ids{12, 13, 12}) == "ab c a b");
    CHECK(decode(R"({"type": "Metaspace", "replacement": "▁", "add_prefix_space": true})",
                 Ids{12, 13, 12}) == "ab c a b");
    CHECK(decode(R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never"})",
                 Ids{12, 13, 12}) == " a b c a b");
}

TEST_CASE("ByteFallback, Fuse, Replace, Strip decoders", "[tokenize][decoder]") {
    // Runs of byte tokens become their text, or one U+FFFD per token when not valid UTF-8;
    // "<0x+F>" is byte 15 (Rust's from_str_radix takes a '+').
    CHECK(decode(R"({"type": "ByteFallback"})", Ids{7, 8, 15, 7, 9, 10, 11, 9, 15, 9, 10}) ==
          "A\x0fx\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDx\xEF\xBF\xBD\xEF\xBF"
          "\xBD");
    CHECK(
        decode(R"({"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]})",
               Ids{7, 9, 10, 11}) == "A€");
    CHECK(decode(R"({"type": "Replace", "pattern": {"Regex": "[a-c]+"}, "content": "_"})",
                 Ids{12, 13, 6}) == "▁_▁_▁_pl_in");
    CHECK(decode(R"({"type": "Replace", "pattern": {"String": "▁"}, "content": " "})",
                 Ids{12, 13}) == " a b c");
    CHECK(decode(R"({"type": "Strip", "content": " ", "start": 1, "stop": 2})", Ids{14, 15, 14}) ==
          " xx x");
}

TEST_CASE("CTC and WordPiece decoders", "[tokenize][decoder]") {
    CHECK(
        decode(
            R"({"type": "CTC", "pad_token": "<pad>", "word_delimiter_token": "|", "cleanup": true})",
            Ids{18, 18, 17, 19, 16, 16, 15, 20, 17, 15, 15, 21}) == "it's x.xe");
}

TEST_CASE("decode without a decoder joins the tokens with spaces", "[tokenize][decoder]") {
    const auto t = parse_ok(tokenizer_json(kVocab));
    CHECK(t->decode(Ids{0, 1, 99, -5, 2}, false) == "Hello Ġworld Ċ");  // unknown ids: nothing
    CHECK(t->decode(Ids{}, false).empty());
}

TEST_CASE("decoders refuse malformed input", "[tokenize][decoder]") {
    auto with = [](const std::string& d) { return tokenizer_json(kVocab, "\"decoder\": " + d); };
    check_refused(with(R"({"type": "Metaspace", "replacement": "ab"})"), Errc::bad_format,
                  {"decoder.replacement", "one character"});
    check_refused(with(R"({"type": "Metaspace"})"), Errc::bad_format, {"decoder.replacement"});
    check_refused(
        with(R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "sometimes"})"),
        Errc::bad_format, {"decoder.prepend_scheme", "sometimes"});
    check_refused(with(R"({"type": "Strip", "content": " ", "start": -1})"), Errc::bad_format,
                  {"decoder.start"});
    check_refused(with(R"({"type": "Replace", "pattern": {"Regex": "("}, "content": ""})"),
                  Errc::bad_format, {"decoder.pattern"});
    check_refused(with(R"({"type": "Replace", "pattern": {"String": "a"}})"), Errc::bad_format,
                  {"decoder", "content"});
    check_refused(with(R"({"type": "Sequence", "decoders": [{"type": "Fuse"}, {"kind": 1}]})"),
                  Errc::bad_format, {"decoder.decoders[1]", "type"});
    check_refused(with(R"({"type": "Sequence", "decoders": [{"type": "Oracle"}]})"),
                  Errc::unsupported, {"decoder.decoders[0]", "Oracle", "ByteLevel"});
    std::string deep = R"({"type": "Fuse"})";
    for (int k = 0; k < 20; ++k)
        deep = R"({"type": "Sequence", "decoders": [)" + deep + "]}";
    check_refused(with(deep), Errc::too_large, {"decoder", "nested"});
}
