// Post-processors (lib/sutra/tokenize/post_processor.cpp): the special tokens around one
// sequence. Expected ids from the reference crate on the same documents.
#include <catch2/catch.hpp>

#include "unit/tokenize/hf_test_support.hpp"

using namespace sutra::test::tokenize;
using sutra::Errc;

namespace {

std::string special(int id, const std::string& content) {
    return "{\"id\": " + std::to_string(id) + ", \"content\": \"" + content +
           "\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": "
           "false, \"special\": true}";
}

std::string with_post(const std::string& post) {
    return tokenizer_json(
        R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "<s>": 2, "</s>": 3, "<x>": 4}, "merges": []})",
        "\"added_tokens\": [" + special(2, "<s>") + ", " + special(3, "</s>") +
            "], \"post_processor\": " + post);
}

const char* kTemplate = R"({"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"SpecialToken": {"id": "<x>", "type_id": 0}},
               {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
    "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [2], "tokens": ["<s>"]},
                       "</s>": {"id": "</s>", "ids": [3], "tokens": ["</s>"]},
                       "<x>": {"id": "<x>", "ids": [4, 1], "tokens": ["<x>", "b"]}}})";

}  // namespace

TEST_CASE("TemplateProcessing puts its special tokens around the sequence", "[tokenize][post]") {
    const auto t = parse_ok(with_post(kTemplate));
    CHECK(t->encode("ab", true) == Ids{2, 4, 1, 0, 1, 3});
    CHECK(t->encode("ab", false) == Ids{0, 1});
    CHECK(t->encode("", true) == Ids{2, 4, 1, 3});
    CHECK(t->leading_special_ids() == Ids{2, 4, 1});
    CHECK(t->decode(Ids{2, 4, 1, 0, 3}, true) == "<x> b a");
}

TEST_CASE("RobertaProcessing, and BertProcessing inside a Sequence", "[tokenize][post]") {
    const auto r = parse_ok(with_post(R"({"type": "RobertaProcessing", "sep": ["</s>", 3],
        "cls": ["<s>", 2], "trim_offsets": true, "add_prefix_space": false})"));
    CHECK(r->encode("ab", true) == Ids{2, 0, 1, 3});
    CHECK(r->encode("ab", false) == Ids{0, 1});
    CHECK(r->encode("", true) == Ids{2, 3});
    CHECK(r->leading_special_ids() == Ids{2});
    CHECK(r->decode(Ids{2, 0, 3}, false) == "<s> a </s>");
    CHECK(r->decode(Ids{2, 0, 3}, true) == "a");
    const auto b = parse_ok(with_post(R"({"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
        {"type": "BertProcessing", "sep": ["</s>", 3], "cls": ["<s>", 2]}]})"));
    CHECK(b->encode("ab", true) == Ids{2, 0, 1, 3});
    CHECK(b->encode("ab", false) == Ids{0, 1});
    CHECK(b->leading_special_ids() == Ids{2});
    const auto bl = parse_ok(with_post(R"({"type": "ByteLevel", "add_prefix_space": true})"));
    CHECK(bl->encode("ab", true) == Ids{0, 1});
    CHECK(bl->leading_special_ids().empty());
}

TEST_CASE("post-processors refuse malformed input", "[tokenize][post]") {
    check_refused(with_post(R"({"type": "TemplateProcessing", "special_tokens": {}})"),
                  Errc::bad_format, {"post_processor.single", "missing"});
    check_refused(with_post(R"({"type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<q>", "type_id": 0}}], "special_tokens": {}})"),
                  Errc::bad_format, {"post_processor.single[0]", "<q>", "special_tokens"});
    check_refused(with_post(R"({"type": "TemplateProcessing",
        "single": [{"Sequence": {"id": "B", "type_id": 0}}], "special_tokens": {}})"),
                  Errc::bad_format, {"post_processor.single[0]", "sequence B"});
    check_refused(with_post(R"({"type": "TemplateProcessing",
        "single": [{"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<q>", "type_id": 0}}], "special_tokens": {}})"),
                  Errc::bad_format, {"post_processor.pair[0]", "<q>"});
    check_refused(with_post(R"({"type": "TemplateProcessing",
        "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<q>", "type_id": 0}}],
        "special_tokens": {"<q>": {"id": "<q>", "ids": [99], "tokens": ["<q>"]}}})"),
                  Errc::bad_format, {"post_processor", "99", "past the vocabulary"});
    check_refused(with_post(R"({"type": "TemplateProcessing",
        "single": [{"Sequence": {"id": "A", "type_id": 0}}],
        "special_tokens": {"<q>": {"id": "<q>", "ids": [1, 2], "tokens": ["<q>"]}}})"),
                  Errc::bad_format, {"post_processor.special_tokens[\"<q>\"]", "tokens"});
    check_refused(with_post(R"({"type": "TemplateProcessing",
        "single": [{"Sequence": {"id": "A", "type_id": 0}}],
        "special_tokens": {"<q>": {"id": "<q>", "ids": ["1"], "tokens": ["<q>"]}}})"),
                  Errc::bad_format, {"post_processor.special_tokens[\"<q>\"].ids[0]"});
    check_refused(with_post(R"({"type": "TemplateProcessing", "single": [{"Other": {}}]})"),
                  Errc::bad_format, {"post_processor.single[0]", "Sequence"});
    check_refused(with_post(R"({"type": "RobertaProcessing", "sep": ["</s>"], "cls": ["<s>", 2]})"),
                  Errc::bad_format, {"post_processor.sep", "pair"});
    check_refused(with_post(R"({"type": "Sequence", "processors": {}})"), Errc::bad_format,
                  {"post_processor", "processors"});
    check_refused(with_post(R"({"type": "Sequence", "processors": [{"type": "Mystery"}]})"),
                  Errc::unsupported,
                  {"post_processor.processors[0]", "Mystery", "TemplateProcessing"});
    check_refused(with_post(R"([1])"), Errc::bad_format, {"post_processor", "object"});
}
