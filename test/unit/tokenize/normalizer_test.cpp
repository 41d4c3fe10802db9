#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "sutra/tokenize/pipeline.hpp"
#include "unit/tokenize/reference_support.hpp"

using nlohmann::json;
using sutra::Errc;
using sutra::tokenize::make_normalizer;
namespace ref = sutra::test::tokenize;

namespace {

std::string normalized(const json& config, std::string text) {
    auto n = make_normalizer(config, "normalizer");
    INFO(config.dump());
    REQUIRE(n.ok());
    (*n)->normalize(text);
    return text;
}

}  // namespace

TEST_CASE("normalizer: the crate's own examples", "[tokenize]") {
    // tokenizers/src/normalizers/*.rs unit tests.
    CHECK(normalized({{"type", "NFKC"}}, "\xEF\xAC\x81") == "fi");
    CHECK(normalized({{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}}, "Hello") ==
          "\xE2\x96\x81Hello");
    CHECK(normalized({{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}}, "") == "");
    CHECK(normalized({{"type", "Replace"}, {"pattern", {{"String", "''"}}}, {"content", "\""}},
                     "This is a ''test''") == "This is a \"test\"");
    CHECK(normalized({{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}},
                     "This     is   a         test") == "This is a test");
    CHECK(normalized({{"type", "StripAccents"}}, "e\xCC\x84\xCC\x84\xCC\x84o") == "eo");
    const json vietnamese = {
        {"type", "Sequence"},
        {"normalizers", {{{"type", "NFKD"}}, {{"type", "StripAccents"}}, {{"type", "Lowercase"}}}}};
    CHECK(normalized(vietnamese, "\xE1\xBA\xAD\xE2\x80\xA6") == "a...");
    CHECK(normalized({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}},
                     " \t\xC2\xA0 Hi  \xE3\x80\x80\n") == "Hi");
    CHECK(normalized({{"type", "Strip"}, {"strip_left", false}, {"strip_right", true}}, "  Hi  ") ==
          "  Hi");
}

TEST_CASE("normalizer: Lowercase maps code point by code point", "[tokenize]") {
    const json lower = {{"type", "Lowercase"}};
    // Rust char::to_lowercase: no final-sigma rule, U+0130 becomes "i" + U+0307.
    CHECK(normalized(lower, "\xCE\xA3\xCE\x91\xCE\xA3") == "\xCF\x83\xCE\xB1\xCF\x83");
    CHECK(normalized(lower, "\xC4\xB0x") == "i\xCC\x87x");
    CHECK(normalized(lower, "ABC\xC3\x89") == "abc\xC3\xA9");
}

TEST_CASE("normalizer: unknown and malformed configurations are refused", "[tokenize]") {
    auto unknown = make_normalizer({{"type", "Fancy"}}, "tokenizer.json: normalizer");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == Errc::unsupported);
    CHECK_THAT(unknown.error().message, Catch::Contains("Fancy") && Catch::Contains("NFKC") &&
                                            Catch::Contains("tokenizer.json: normalizer"));
    auto nested = make_normalizer(
        {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}, {{"type", "Nope"}}}}},
        "normalizer");
    REQUIRE_FALSE(nested.ok());
    CHECK_THAT(nested.error().message, Catch::Contains("normalizer.normalizers[1]"));
    CHECK(make_normalizer(json::array(), "n").error().code == Errc::bad_format);
    CHECK(make_normalizer({{"type", "Prepend"}}, "n").error().code == Errc::bad_format);
    CHECK(
        make_normalizer({{"type", "Replace"}, {"pattern", {{"Regex", "("}}}, {"content", ""}}, "n")
            .error()
            .code == Errc::bad_format);
    CHECK(make_normalizer({{"type", "Replace"}, {"pattern", {{"Glob", "*"}}}, {"content", ""}}, "n")
              .error()
              .code == Errc::unsupported);
    CHECK(make_normalizer({{"type", "Precompiled"}, {"precompiled_charsmap", "not base64!"}}, "n")
              .error()
              .code == Errc::bad_format);
    json deep = {{"type", "NFC"}};
    for (int k = 0; k < 40; ++k)
        deep = {{"type", "Sequence"}, {"normalizers", {deep}}};
    CHECK(make_normalizer(deep, "n").error().code == Errc::too_large);
}

TEST_CASE("normalizer: matches the reference crate on the reference texts", "[tokenize]") {
    CHECK(ref::run_reference_cases(/*shared=*/false, /*pre_tokenizers=*/false) >= 15);
}

TEST_CASE("normalizer: the real files' normalizers match the reference crate",
          "[tokenize][shared]") {
    CHECK(ref::run_reference_cases(/*shared=*/true, /*pre_tokenizers=*/false) >= 4);
}

TEST_CASE("normalizer: ill-formed UTF-8 does not crash", "[tokenize]") {
    const std::string bad = "A\xFF \xE2\x96 \xED\xA0\x80 x";
    for (const char* type : {"NFC", "NFKD", "Lowercase", "StripAccents", "Nmt", "BertNormalizer"}) {
        INFO(type);
        const std::string out = normalized({{"type", type}}, bad);
        CHECK(out.find('x') != std::string::npos);
    }
    CHECK(normalized({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}, " \xFF ") ==
          "\xFF");
}
