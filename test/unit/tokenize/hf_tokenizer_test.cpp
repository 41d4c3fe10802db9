// The tokenizer.json document as a whole (lib/sutra/tokenize/hf_tokenizer.cpp): top-level
// fields, malformed documents, text that is not UTF-8, byte-exact strings, several threads.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/paths.hpp"
#include "unit/tokenize/hf_test_support.hpp"

using namespace sutra::test::tokenize;
using sutra::Errc;

namespace {

const char* kModel = R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})";

}  // namespace

TEST_CASE("tokenizer.json: the top level", "[tokenize][hf]") {
    const auto t =
        parse_ok(tokenizer_json(kModel, R"("truncation": {"max_length": 1}, "padding": null)"));
    // truncation is ignored: encode gives the ids of the whole text
    CHECK(t->encode("abab", true) == Ids{2, 2});
    CHECK(t->leading_special_ids().empty());
    CHECK(t->vocab_size() == 3);
    // no version field is fine too
    CHECK(parse_ok(std::string("{\"model\": ") + kModel + "}")->encode("ab", false) == Ids{2});
}

TEST_CASE("tokenizer.json: malformed documents give one-line errors", "[tokenize][hf]") {
    check_refused("", Errc::bad_format, {"tokenizer.json", "JSON"});
    check_refused("{\"model\": ", Errc::bad_format, {"tokenizer.json", "JSON"});
    check_refused("[1, 2]", Errc::bad_format, {"tokenizer.json", "object"});
    check_refused("{}", Errc::bad_format, {"tokenizer.json: model", "missing"});
    check_refused(R"({"model": 3})", Errc::bad_format, {"tokenizer.json: model"});
    check_refused(std::string(R"({"version": "2.0", "model": )") + kModel + "}", Errc::unsupported,
                  {"version", "2.0"});
    check_refused(std::string("\xEF\xBB\xBF") + tokenizer_json(kModel), Errc::bad_format,
                  {"byte-order mark"});
    check_refused(tokenizer_json(kModel, R"("normalizer": [])"), Errc::bad_format,
                  {"normalizer", "object"});
    check_refused(tokenizer_json(kModel, R"("pre_tokenizer": {"type": "Nope"})"), Errc::unsupported,
                  {"pre_tokenizer", "Nope"});
    check_refused(tokenizer_json(kModel, R"("decoder": "ByteLevel")"), Errc::bad_format,
                  {"decoder", "object"});
    check_refused(tokenizer_json(R"({"type": "BPE", "vocab": {}, "merges": []})"), Errc::bad_format,
                  {"vocabulary is empty"});
    check_refused(tokenizer_json(kModel, R"("added_tokens": null, "added_tokens": [])"),
                  Errc::bad_format, {"duplicate key"});
    // An invalid UTF-8 byte inside a JSON string.
    check_refused(tokenizer_json(R"({"type": "BPE", "vocab": {"a)"
                                 "\xFF"
                                 R"(": 0}, "merges": []})"),
                  Errc::bad_format, {"tokenizer.json"});
}

TEST_CASE("tokenizer.json: strings are read byte-exact", "[tokenize][hf]") {
    // Raw U+00A0 and U+2028 inside JSON strings are tokens of their own.
    const auto t = parse_ok(tokenizer_json(
        "{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"\xC2\xA0\": 1, \"\xE2\x80\xA8\": 2, "
        "\"\\u00e9\": 3}, \"merges\": []}"));
    CHECK(t->encode("a\xC2\xA0\xE2\x80\xA8\xC3\xA9", false) == Ids{0, 1, 2, 3});
    CHECK(t->decode(Ids{1, 2}, false) == "\xC2\xA0 \xE2\x80\xA8");
}

TEST_CASE("tokenizer.json: text that is not UTF-8 is made valid first", "[tokenize][hf]") {
    const auto t = parse_ok(tokenizer_json(
        R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "�": 3}, "merges": ["a b"]})"));
    CHECK(t->encode("a\xFF"
                    "b",
                    false) == Ids{0, 3, 1});
    CHECK(t->encode("ab\xE2\x82", false) == Ids{2, 3});  // a truncated character: one U+FFFD
    CHECK(t->encode("\xC0\xAF", false) == Ids{3, 3});
}

TEST_CASE("tokenizer.json: encode from several threads at once", "[tokenize][hf]") {
    const auto t = parse_ok(tokenizer_json(
        R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5},
            "merges": ["a b", "b c", "ab c"]})",
        R"("pre_tokenizer": {"type": "WhitespaceSplit"})"));
    std::string text;
    for (int k = 0; k < 4000; ++k) {
        std::string w;
        for (int c = 0; c < 1 + k % 7; ++c)
            w += static_cast<char>('a' + (k * 7 + c * 3) % 3);
        text += w + " ";
    }
    const Ids want = t->encode(text, false);
    REQUIRE(want.size() > 4000);
    std::vector<Ids> got(4);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < got.size(); ++i)
        threads.emplace_back([&, i] {
            for (int r = 0; r < 5; ++r)
                got[i] = t->encode(text, false);
        });
    for (auto& th : threads)
        th.join();
    for (const auto& g : got)
        CHECK(g == want);
}

TEST_CASE("load_hf_tokenizer reads a file, names it in errors", "[tokenize][hf]") {
    sutra::test::TempDir tmp;
    const std::filesystem::path dir = tmp.path();
    const auto good = dir / "tokenizer.json";
    std::ofstream(good, std::ios::binary) << tokenizer_json(kModel);
    auto t = sutra::tokenize::load_hf_tokenizer(good);
    REQUIRE(t.ok());
    CHECK((*t)->describe() == "tokenizer.json (BPE, 3 tokens)");
    const auto bad = dir / "broken.json";
    std::ofstream(bad, std::ios::binary)
        << tokenizer_json(R"({"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]})");
    auto e = sutra::tokenize::load_hf_tokenizer(bad);
    REQUIRE(!e.ok());
    CHECK(e.error().message.find(bad.string() + ": model.merges[0]") != std::string::npos);
    auto missing = sutra::tokenize::load_hf_tokenizer(dir / "missing.json");
    REQUIRE(!missing.ok());
    CHECK(missing.error().code == Errc::not_found);
}
