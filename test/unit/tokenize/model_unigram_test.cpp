// The Unigram model (lib/sutra/tokenize/model_unigram.cpp) on small hand-written
// tokenizer.json documents; the expected ids come from the reference crate.
#include <catch2/catch.hpp>

#include "unit/tokenize/hf_test_support.hpp"

using namespace sutra::test::tokenize;
using sutra::Errc;

namespace {

const std::string kVocab = R"([["<unk>", 0.0], ["a", -2.0], ["b", -2.5], ["ab", -3.0], ["c", -4.0],
    ["abc", -8.0], ["bc", -4.5], ["▁", -1.0], ["▁a", -2.2], ["<0xC3>", -10], ["<0xA9>", -10],
    ["d", -6]])";

std::string unigram(const std::string& vocab, const std::string& extra) {
    return "{\"type\": \"Unigram\", " + extra + ", \"vocab\": " + vocab + "}";
}

}  // namespace

TEST_CASE("Unigram: best path, unknown characters, T5-style pipeline", "[tokenize][unigram]") {
    const std::string rest = R"("added_tokens": [{"id": 12, "content": "</s>", "single_word": false,
        "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
      "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
      "post_processor": {"type": "TemplateProcessing",
          "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
          "pair": [], "special_tokens": {"</s>": {"id": "</s>", "ids": [12], "tokens": ["</s>"]}}},
      "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true})";
    const auto t =
        parse_ok(tokenizer_json(unigram(kVocab, R"("unk_id": 0, "byte_fallback": false)"), rest));
    CHECK(t->encode("abc", true) == Ids{8, 6, 12});
    CHECK(t->encode("abc", false) == Ids{8, 6});
    CHECK(t->encode("ab c", false) == Ids{7, 3, 7, 4});
    CHECK(t->encode("abd", false) == Ids{7, 3, 11});
    CHECK(t->encode("xyzab", false) == Ids{7, 0, 3});  // "xyz" fused into one unk
    CHECK(t->encode("a x b", false) == Ids{8, 7, 0, 7, 2});
    CHECK(t->encode("éa", false) == Ids{7, 0, 1});
    CHECK(t->encode("abcabc", false) == Ids{8, 6, 1, 6});
    CHECK(t->encode("", true) == Ids{12});
    CHECK(t->encode("", false).empty());
    CHECK(t->leading_special_ids().empty());
    CHECK(t->vocab_size() == 13);
    CHECK(t->describe() == "tokenizer.json (Unigram, 13 tokens)");
    CHECK(t->decode(Ids{1, 7, 8, 12, 0}, false) == "a  a</s><unk>");
    CHECK(t->decode(Ids{1, 7, 8, 12, 0}, true) == "a  a<unk>");
}

TEST_CASE("Unigram: byte_fallback for unknown characters", "[tokenize][unigram]") {
    const auto t = parse_ok(tokenizer_json(unigram(kVocab, R"("unk_id": 0, "byte_fallback": true)"),
                                           R"("pre_tokenizer": {"type": "WhitespaceSplit"})"));
    CHECK(t->encode("éab", false) == Ids{9, 10, 3});
    CHECK(t->encode("xé", false) == Ids{0});  // one fused unknown; 'x' has no byte piece
    CHECK(t->encode("abc x", false) == Ids{1, 6, 0});
}

TEST_CASE("Unigram: without unk_id an unknown character is dropped", "[tokenize][unigram]") {
    // The reference fails such an encode; sutra drops the character.
    const auto t = parse_ok(tokenizer_json(unigram(kVocab, R"("unk_id": null)")));
    CHECK(t->encode("axb", false) == Ids{1, 2});
}

TEST_CASE("Unigram refuses a malformed model, naming the field", "[tokenize][unigram]") {
    check_refused(tokenizer_json(R"({"type": "Unigram", "unk_id": 0, "vocab": {}})"),
                  Errc::bad_format, {"model", "vocab"});
    check_refused(tokenizer_json(R"({"type": "Unigram", "unk_id": 0, "vocab": []})"),
                  Errc::bad_format, {"model.vocab", "empty"});
    check_refused(tokenizer_json(unigram(R"([["a", -1], ["b"]])", R"("unk_id": 0)")),
                  Errc::bad_format, {"model.vocab[1]", "pair"});
    check_refused(tokenizer_json(unigram(R"([["a", -1], [2, -1]])", R"("unk_id": 0)")),
                  Errc::bad_format, {"model.vocab[1][0]", "string"});
    check_refused(tokenizer_json(unigram(R"([["a", "x"]])", R"("unk_id": 0)")), Errc::bad_format,
                  {"model.vocab[0][1]", "number"});
    check_refused(tokenizer_json(unigram(R"([["a", -1]])", R"("unk_id": 1)")), Errc::bad_format,
                  {"model.unk_id", "1", "past the vocabulary"});
    check_refused(tokenizer_json(unigram(R"([["a", -1]])", R"("unk_id": -1)")), Errc::bad_format,
                  {"model.unk_id"});
    check_refused(
        tokenizer_json(unigram(R"([["a", -1]])", R"("unk_id": 0, "byte_fallback": "yes")")),
        Errc::bad_format, {"model", "byte_fallback"});
}
