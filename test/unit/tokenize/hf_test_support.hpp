#pragma once
// Helpers for the tokenizer.json component tests: a tokenizer from a small hand-written
// document, and the error a malformed one gives. The expected ids in these tests were
// produced by the reference (the `tokenizers` crate 0.23.2 through npm `tokenizers`) on the
// same documents.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "sutra/tokenize/hf_tokenizer.hpp"

namespace sutra::test::tokenize {

// A tokenizer.json with `model` (a JSON object) and the other top-level fields in `rest`
// (JSON members, e.g. "\"decoder\": {...}"), the ones not given being null.
inline std::string tokenizer_json(const std::string& model, const std::string& rest = "") {
    return "{\"version\": \"1.0\", " + (rest.empty() ? std::string() : rest + ", ") +
           "\"model\": " + model + "}";
}

inline std::unique_ptr<sutra::tokenize::HfTokenizer> parse_ok(const std::string& json) {
    auto t = sutra::tokenize::parse_hf_tokenizer(json, "tokenizer.json");
    if (!t.ok()) FAIL(t.error().message);
    return std::move(t).value();
}

// The error of a document that must be refused; fails the test if it is accepted.
inline sutra::Error parse_error(const std::string& json) {
    auto t = sutra::tokenize::parse_hf_tokenizer(json, "tokenizer.json");
    if (t.ok()) FAIL("accepted: " << json);
    return t.error();
}

// Checks that the document is refused with `code` and a one-line message that contains
// every one of `words`.
inline void check_refused(const std::string& json, sutra::Errc code,
                          std::initializer_list<std::string> words) {
    const sutra::Error e = parse_error(json);
    INFO(e.message);
    CHECK(e.code == code);
    CHECK(e.message.find('\n') == std::string::npos);
    for (const auto& w : words)
        CHECK(e.message.find(w) != std::string::npos);
}

using Ids = std::vector<int32_t>;

}  // namespace sutra::test::tokenize
