// The BPE model (lib/sutra/tokenize/model_bpe.cpp) on small hand-written tokenizer.json
// documents; the expected ids come from the reference crate on the same documents.
#include <catch2/catch.hpp>

#include "unit/tokenize/hf_test_support.hpp"

using namespace sutra::test::tokenize;
using sutra::Errc;

namespace {

const char* kWs = "\"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}";

std::string bpe(const std::string& vocab, const std::string& merges,
                const std::string& extra = "") {
    return "{\"type\": \"BPE\", " + (extra.empty() ? std::string() : extra + ", ") +
           "\"vocab\": " + vocab + ", \"merges\": " + merges + "}";
}

const std::string kVocab =
    R"({"a": 0, "b": 1, "c": 2, "d": 3, "ab": 4, "bc": 5, "abc": 6, "aa": 7, "cd": 8, "abcd": 9})";
const std::string kMerges = R"(["b c", "a b", "a bc", "ab c", "a a", "c d", "abc d"])";

}  // namespace

TEST_CASE("BPE merges by rank, leftmost first on ties", "[tokenize][bpe]") {
    const auto t = parse_ok(tokenizer_json(bpe(kVocab, kMerges), kWs));
    CHECK(t->encode("abc", false) == Ids{6});  // "b c" (rank 0) first, then "a bc"
    CHECK(t->encode("abab", false) == Ids{4, 4});
    CHECK(t->encode("aaa", false) == Ids{7, 0});  // the leftmost "a a"
    CHECK(t->encode("aaaa", false) == Ids{7, 7});
    CHECK(t->encode("abcd abc cd", false) == Ids{9, 6, 8});
    CHECK(t->encode("bcd", false) == Ids{5, 3});
    CHECK(t->encode("dcba", false) == Ids{3, 2, 1, 0});
    CHECK(t->encode("x", false).empty());  // no unk_token: unknown characters give nothing
    CHECK(t->vocab_size() == 10);
    CHECK(t->describe() == "tokenizer.json (BPE, 10 tokens)");
    CHECK(t->token_to_id("abc") == 6);
    CHECK(t->token_to_id("zz") == -1);
    // The same word again comes from the cache, with the same ids.
    for (int k = 0; k < 3; ++k)
        CHECK(t->encode("abcd abcd", false) == Ids{9, 9});
}

TEST_CASE("BPE merges as pairs, and ignore_merges", "[tokenize][bpe]") {
    const auto t =
        parse_ok(tokenizer_json(bpe(R"({"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4, "bc": 5})",
                                    R"([["b", "c"], ["a", "b"]])", "\"ignore_merges\": true"),
                                kWs));
    CHECK(t->encode("abc", false) == Ids{4});  // a token itself, although no merge makes it
    CHECK(t->encode("ab", false) == Ids{3});
    CHECK(t->encode("bcab", false) == Ids{5, 3});
    CHECK(t->encode("abcab", false) == Ids{0, 5, 3});
}

TEST_CASE("BPE continuing_subword_prefix, WordPiece decoder", "[tokenize][bpe]") {
    const std::string vocab =
        R"({"a": 0, "b": 1, "##a": 2, "##b": 3, "ab": 4, "##ab": 5, "b</w>": 6, "a</w>": 7, "ab</w>": 8, "<unk>": 9})";
    const auto t = parse_ok(tokenizer_json(
        bpe(vocab, R"(["a ##b", "##a ##b"])", "\"continuing_subword_prefix\": \"##\""),
        std::string(kWs) +
            R"(, "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true})"));
    CHECK(t->encode("ab", false) == Ids{4});
    CHECK(t->encode("aab", false) == Ids{0, 5});
    CHECK(t->encode("abab", false) == Ids{4, 5});
    CHECK(t->encode("b ba", false) == Ids{1, 1, 2});
    CHECK(t->encode("bab", false) == Ids{1, 5});
    CHECK(t->decode(Ids{4, 5, 3, 2}, false) == "ababba");
}

TEST_CASE("BPE end_of_word_suffix, BPEDecoder", "[tokenize][bpe]") {
    const std::string vocab =
        R"({"a": 0, "b": 1, "##a": 2, "##b": 3, "ab": 4, "##ab": 5, "b</w>": 6, "a</w>": 7, "ab</w>": 8, "<unk>": 9})";
    const auto t = parse_ok(tokenizer_json(
        bpe(vocab, R"(["a b</w>"])", "\"end_of_word_suffix\": \"</w>\", \"unk_token\": \"<unk>\""),
        std::string(kWs) + R"(, "decoder": {"type": "BPEDecoder", "suffix": "</w>"})"));
    CHECK(t->encode("ab", false) == Ids{8});
    CHECK(t->encode("a", false) == Ids{7});
    CHECK(t->encode("abab", false) == Ids{0, 1, 8});
    CHECK(t->encode("ba", false) == Ids{1, 7});
    CHECK(t->encode("b a ab", false) == Ids{6, 7, 8});
    CHECK(t->decode(Ids{4, 8, 6, 0}, false) == "abab b a");
}

TEST_CASE("BPE byte_fallback and fuse_unk (the Llama/Mistral legacy layout)", "[tokenize][bpe]") {
    const std::string vocab =
        R"({"<unk>": 0, "a": 1, "b": 2, "ab": 3, "▁": 4, "▁a": 5, "<0xC3>": 6, "<0xA9>": 7, "<0xE2>": 8, "<0x82>": 9, "<0xAC>": 10, "<0x41>": 11})";
    const std::string rest = R"("added_tokens": [
        {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
        {"id": 12, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
      "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
          {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
      "post_processor": {"type": "TemplateProcessing",
          "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
          "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [12], "tokens": ["<s>"]}}},
      "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
          {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})";
    const auto t = parse_ok(
        tokenizer_json(bpe(vocab, R"(["a b", "▁ a"])",
                           R"("unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true)"),
                       rest));
    CHECK(t->encode("ab", true) == Ids{12, 4, 3});
    CHECK(t->encode("ab", false) == Ids{4, 3});
    CHECK(t->encode("a b", false) == Ids{5, 4, 2});
    CHECK(t->encode("é", false) == Ids{4, 6, 7});
    CHECK(t->encode("€ab", false) == Ids{4, 8, 9, 10, 3});
    // An unknown character before a byte-fallback one: its unk comes after the bytes, as in
    // the crate.
    CHECK(t->encode("xé", false) == Ids{4, 6, 7, 0});
    CHECK(t->encode("xy", false) == Ids{4, 0});  // fused into one unk
    CHECK(t->encode("a  b", false) == Ids{5, 4, 4, 2});
    CHECK(t->encode("<s>ab", true) == Ids{12, 12, 4, 3});
    CHECK(t->encode("", true) == Ids{12});
    CHECK(t->encode("", false).empty());
    CHECK(t->encode(" ", false) == Ids{4, 4});
    CHECK(t->leading_special_ids() == Ids{12});
    CHECK(t->decode(Ids{4, 6, 7, 0}, false) == "é<unk>");
    CHECK(t->decode(Ids{12, 4, 8, 9, 10, 3}, false) == "<s> €ab");
    CHECK(t->decode(Ids{12, 4, 8, 9, 10, 3}, true) == "€ab");
    CHECK(t->decode(Ids{12, 4, 0}, true) == "");  // <unk> is a special added token here
}

TEST_CASE("BPE unk_token without fuse_unk", "[tokenize][bpe]") {
    const auto t = parse_ok(tokenizer_json(
        bpe(R"({"<unk>": 0, "a": 1, "b": 2, "ab": 3})", R"(["a b"])", R"("unk_token": "<unk>")")));
    CHECK(t->encode("ab", false) == Ids{3});
    CHECK(t->encode("xyab", false) == Ids{0, 0, 3});
    CHECK(t->encode("xaby", false) == Ids{0, 3, 0});
    // No decoder: the tokens joined by spaces.
    CHECK(t->decode(Ids{0, 3, 0}, false) == "<unk> ab <unk>");
}

TEST_CASE("BPE dropout", "[tokenize][bpe]") {
    const std::string vocab = R"({"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4})";
    auto with = [&](const std::string& dropout) {
        return tokenizer_json("{\"type\": \"BPE\", \"dropout\": " + dropout +
                              ", \"ignore_merges\": true, \"vocab\": " + vocab +
                              ", \"merges\": [\"a b\"]}");
    };
    CHECK(parse_ok(with("0.0"))->encode("ab", false) == Ids{3});
    // Dropout 1 skips every merge, and the crate's dropout path has no ignore_merges.
    CHECK(parse_ok(with("1.0"))->encode("abc", false) == Ids{0, 1, 2});
    check_refused(with("0.5"), Errc::unsupported, {"model.dropout", "null"});
    check_refused(with("-1"), Errc::bad_format, {"model.dropout", "between 0 and 1"});
    check_refused(with("\"x\""), Errc::bad_format, {"model.dropout", "number"});
}

TEST_CASE("BPE refuses a malformed model, naming the field", "[tokenize][bpe]") {
    const std::string v = R"({"a": 0, "b": 1, "ab": 2})";
    check_refused(tokenizer_json(R"({"type": "BPE", "merges": []})"), Errc::bad_format,
                  {"tokenizer.json: model", "vocab"});
    check_refused(tokenizer_json(R"({"type": "BPE", "vocab": [], "merges": []})"), Errc::bad_format,
                  {"model", "vocab"});
    check_refused(tokenizer_json(bpe(v, R"({})")), Errc::bad_format, {"model", "merges"});
    check_refused(tokenizer_json(R"({"type": "BPE", "vocab": {"a": 0}})"), Errc::bad_format,
                  {"model", "merges"});
    check_refused(tokenizer_json(bpe(R"({"a": -1})", "[]")), Errc::bad_format,
                  {"model.vocab[\"a\"]", "-1"});
    check_refused(tokenizer_json(bpe(R"({"a": 1.5})", "[]")), Errc::bad_format,
                  {"model.vocab[\"a\"]", "integer"});
    check_refused(tokenizer_json(bpe(R"({"a": "1"})", "[]")), Errc::bad_format,
                  {"model.vocab[\"a\"]", "integer"});
    check_refused(tokenizer_json(bpe(R"({"a": 4000000000})", "[]")), Errc::bad_format,
                  {"model.vocab[\"a\"]", "4000000000", "16777215"});
    check_refused(tokenizer_json(bpe(R"({"a": 0, "b": 0})", "[]")), Errc::bad_format,
                  {"model.vocab", "id 0", "\"a\"", "\"b\""});
    check_refused(tokenizer_json(bpe(v, R"(["a b", "a  b"])")), Errc::bad_format,
                  {"model.merges[1]", "one space"});
    check_refused(tokenizer_json(bpe(v, R"(["ab"])")), Errc::bad_format,
                  {"model.merges[0]", "one space"});
    check_refused(tokenizer_json(bpe(v, R"(["a c"])")), Errc::bad_format,
                  {"model.merges[0]", "\"c\"", "not in"});
    check_refused(tokenizer_json(bpe(v, R"(["b a"])")), Errc::bad_format,
                  {"model.merges[0]", "\"ba\"", "not in"});
    check_refused(tokenizer_json(bpe(v, R"(["a b", ["a", "b"]])")), Errc::bad_format,
                  {"model.merges[1]", "one form"});
    check_refused(tokenizer_json(bpe(v, R"([["a", "b", "c"]])")), Errc::bad_format,
                  {"model.merges[0]", "pair"});
    check_refused(tokenizer_json(bpe(v, R"([7])")), Errc::bad_format, {"model.merges[0]"});
    check_refused(tokenizer_json(bpe(v, R"(["a b"])", R"("continuing_subword_prefix": "###")")),
                  Errc::bad_format, {"model.merges[0]", "continuing_subword_prefix"});
    check_refused(tokenizer_json(bpe(v, "[]", R"("fuse_unk": 1)")), Errc::bad_format,
                  {"model", "fuse_unk"});
    check_refused(tokenizer_json(bpe(v, "[]", R"("unk_token": 5)")), Errc::bad_format,
                  {"model.unk_token", "string"});
    check_refused(tokenizer_json(bpe(v, "[]", R"("continuing_subword_prefix": [])")),
                  Errc::bad_format, {"model.continuing_subword_prefix"});
    check_refused(tokenizer_json(R"({"type": "WordPiece", "vocab": {}})"), Errc::unsupported,
                  {"model", "WordPiece", "BPE, Unigram"});
    check_refused(tokenizer_json(R"({"vocab": {}})"), Errc::bad_format, {"model", "type"});
}

TEST_CASE("BPE merges written as \"#version\" lines are skipped", "[tokenize][bpe]") {
    // The string form goes through the crate's merges.txt reader, which skips them.
    const auto t = parse_ok(tokenizer_json(bpe(R"({"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4})",
                                               R"(["#version: 0.2", "b c", "a b"])")));
    CHECK(t->encode("abc", false) == Ids{0, 4});
}
