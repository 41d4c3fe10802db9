// Added tokens (lib/sutra/tokenize/added_vocabulary.cpp): matching before and after the
// normalizer, lstrip / rstrip / single_word, id assignment, decoding. Expected ids from the
// reference crate on the same documents.
#include <catch2/catch.hpp>

#include "unit/tokenize/hf_test_support.hpp"

using namespace sutra::test::tokenize;
using sutra::Errc;

namespace {

std::string added(int id, const std::string& content, const std::string& flags) {
    return "{\"id\": " + std::to_string(id) + ", \"content\": \"" + content + "\", " + flags + "}";
}

const char* kPlain = R"("single_word": false, "lstrip": false, "rstrip": false)";

std::string flags(bool single_word, bool lstrip, bool rstrip, bool normalized, bool special) {
    auto b = [](bool v) { return v ? "true" : "false"; };
    return std::string("\"single_word\": ") + b(single_word) + ", \"lstrip\": " + b(lstrip) +
           ", \"rstrip\": " + b(rstrip) + ", \"normalized\": " + b(normalized) +
           ", \"special\": " + b(special);
}

std::unique_ptr<sutra::tokenize::HfTokenizer> options_tokenizer() {
    const std::string list = "[" + added(4, "<s>", flags(false, false, false, false, true)) + ", " +
                             added(5, "[L]", flags(false, true, false, false, false)) + ", " +
                             added(6, "[R]", flags(false, false, true, false, false)) + ", " +
                             added(7, "ab", flags(true, false, false, true, false)) + ", " +
                             added(8, "XY", flags(false, false, false, true, false)) + ", " +
                             added(9, "[LR]", flags(false, true, true, false, true)) + ", " +
                             added(10, "[L]x", flags(false, false, false, false, false)) + ", " +
                             added(11, "b b", flags(false, false, false, true, false)) + ", " +
                             added(12, "SP", flags(false, false, false, true, true)) + "]";
    return parse_ok(tokenizer_json(
        R"({"type": "BPE", "vocab": {"a": 0, "b": 1, " ": 2, "x": 3, "<s>": 4}, "merges": []})",
        "\"added_tokens\": " + list + R"(, "normalizer": {"type": "Lowercase"})"));
}

}  // namespace

TEST_CASE("added tokens: lstrip, rstrip, single_word, normalized", "[tokenize][added]") {
    const auto t = options_tokenizer();
    CHECK(t->encode("a [L]b", false) == Ids{0, 5, 1});   // lstrip takes the space
    CHECK(t->encode("a  [L]b", false) == Ids{0, 5, 1});  // all of it
    CHECK(t->encode("[R]  a", false) == Ids{6, 0});      // rstrip
    CHECK(t->encode("a  [LR]  b", false) == Ids{0, 9, 1});
    CHECK(t->encode("ab", false) == Ids{7});
    CHECK(t->encode("xab", false) == Ids{3, 0, 1});  // single_word: "x" before it is a word
    CHECK(t->encode("ab b", false) == Ids{7, 2, 1});
    CHECK(t->encode("a ab", false) == Ids{0, 2, 7});
    // normalized = true: matched on the lowercased text against the lowercased content.
    CHECK(t->encode("xy", false) == Ids{8});
    CHECK(t->encode("XYa", false) == Ids{8, 0});
    CHECK(t->encode("aXYb", false) == Ids{0, 8, 1});
    CHECK(t->encode("B B", false) == Ids{11});
    CHECK(t->encode("b b", false) == Ids{11});
    // Leftmost-longest on the raw text.
    CHECK(t->encode("[L]x", false) == Ids{10});
    CHECK(t->encode("[R] [L]", false) == Ids{6, 5});  // the space went to [R] already
    CHECK(t->encode("[L] [L]", false) == Ids{5, 5});
    CHECK(t->encode("<s>a", false) == Ids{4, 0});
    CHECK(t->decode(Ids{4, 5, 6, 7, 8, 9, 0, 1}, false) == "<s> [L] [R] ab xy [LR] a b");
    CHECK(t->decode(Ids{4, 5, 6, 7, 8, 9, 0, 1}, true) == "[L] [R] ab xy a b");
    CHECK(t->token_to_id("[LR]") == 9);
    // token_to_id takes the content as written; id_to_token gives it normalized, and a
    // special token with normalized = true is then not recognised as special by decode.
    CHECK(t->token_to_id("XY") == 8);
    CHECK(t->token_to_id("xy") == -1);
    CHECK(t->encode("aSPb xy", false) == Ids{0, 12, 1, 2, 8});
    CHECK(t->decode(Ids{8, 12, 0}, true) == "xy sp a");
    CHECK(t->vocab_size() == 13);
}

TEST_CASE("added tokens get the crate's ids, not the file's", "[tokenize][added]") {
    // A content in the model vocabulary takes its id; others follow the model's ids in order.
    const auto t = parse_ok(tokenizer_json(
        R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})",
        "\"added_tokens\": [" + added(7, "<x>", flags(false, false, false, false, true)) + ", " +
            added(3, "<y>", flags(false, false, false, false, false)) + ", " +
            added(9, "ab", flags(false, false, false, false, true)) + "]"));
    CHECK(t->encode("ab<x>a<y>b", false) == Ids{2, 3, 0, 4, 1});
    CHECK(t->token_to_id("<x>") == 3);
    CHECK(t->token_to_id("<y>") == 4);
    CHECK(t->vocab_size() == 5);
    CHECK(t->decode(Ids{0, 1, 2, 3, 4, 7}, false) == "a b ab <x> <y>");
    // "ab" is special now (an added token with the model's id 2), so skipping drops it.
    CHECK(t->decode(Ids{0, 1, 2, 3, 4, 7}, true) == "a b <y>");
}

TEST_CASE("added tokens refuse malformed entries", "[tokenize][added]") {
    const std::string model = R"({"type": "BPE", "vocab": {"a": 0}, "merges": []})";
    check_refused(tokenizer_json(model, R"("added_tokens": {})"), Errc::bad_format,
                  {"tokenizer.json: added_tokens", "array"});
    check_refused(tokenizer_json(model, R"("added_tokens": [5])"), Errc::bad_format,
                  {"added_tokens[0]", "content"});
    check_refused(tokenizer_json(model, R"("added_tokens": [{"id": 1}])"), Errc::bad_format,
                  {"added_tokens[0]", "content"});
    check_refused(tokenizer_json(model, "\"added_tokens\": [" + added(1, "x", kPlain) +
                                            R"(, {"id": 2, "content": "y", "special": "no"}])"),
                  Errc::bad_format, {"added_tokens[1]", "special"});
    check_refused(tokenizer_json(model, R"("added_tokens": [{"id": -3, "content": "y"}])"),
                  Errc::bad_format, {"added_tokens[0].id"});
}
