#include "sutra/tokenize/regex.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using sutra::Errc;
using sutra::tokenize::Match;
using sutra::tokenize::Regex;
using sutra::tokenize::regex_escape;

namespace {

using Ranges = std::vector<std::pair<std::size_t, std::size_t>>;

Regex compile(const std::string& pattern) {
    auto r = Regex::compile(pattern, "test");
    INFO(pattern);
    REQUIRE(r.ok());
    return std::move(r).value();
}

Ranges ranges(const Regex& re, std::string_view text) {
    Ranges out;
    for (const Match& m : re.find_all(text))
        out.emplace_back(m.begin, m.end);
    return out;
}

}  // namespace

TEST_CASE("regex: find_all gives non-overlapping byte ranges, as the onig crate", "[tokenize]") {
    // The crate's own onig_regex test (tokenizers/src/tokenizer/pattern.rs).
    const Regex ws = compile(R"(\s+)");
    CHECK(ranges(ws, "a   b") == Ranges{{1, 4}});
    CHECK(ranges(ws, "   a   b   ") == Ranges{{0, 3}, {4, 7}, {8, 11}});
    CHECK(ranges(ws, "").empty());
    CHECK(ranges(ws, "aaa").empty());
    // Byte offsets: each mathematical letter is 4 bytes.
    CHECK(ranges(ws, "\xF0\x9D\x94\xBE\xF0\x9D\x95\xA0\xF0\x9D\x95\xA0\xF0\x9D\x95\x95 x") ==
          Ranges{{16, 17}});
}

TEST_CASE("regex: no empty match where the previous match ended", "[tokenize]") {
    // onig's FindMatches on "axx\u00e9": "" at 0, "xx" at 1..3, the empty match at 3 right
    // after it is not taken, then "" at 5, past the 2-byte e-acute.
    const Regex xs = compile("x*");
    CHECK(ranges(xs, "axx\xC3\xA9") == Ranges{{0, 0}, {1, 3}, {5, 5}});
    CHECK(ranges(xs, "") == Ranges{{0, 0}});
    CHECK(ranges(xs, "xx") == Ranges{{0, 2}});
    const Regex empty = compile("");
    CHECK(ranges(empty, "ab") == Ranges{{0, 0}, {1, 1}, {2, 2}});
    // An empty match later than the end of a non-empty one is taken (as the crate does on
    // "a<|endoftext|>b" with "x|(?=b)").
    const Regex x_or_before_b = compile("x|(?=b)");
    CHECK(ranges(x_or_before_b, "axyzb") == Ranges{{1, 2}, {4, 4}});
    CHECK(ranges(x_or_before_b, "axb") == Ranges{{1, 2}});
}

TEST_CASE("regex: Ruby syntax, Unicode classes and look-ahead", "[tokenize]") {
    const Regex gpt2_tail = compile(R"( ?\p{L}+|\s+(?!\S)|\s+)");
    CHECK(ranges(gpt2_tail, "a  b") == Ranges{{0, 1}, {1, 2}, {2, 4}});
    const Regex ci = compile("(?i:'s|'t)");
    CHECK(ranges(ci, "IT'S it's") == Ranges{{2, 4}, {7, 9}});
    // \s is Unicode White_Space: NBSP (2 bytes) and U+3000 (3 bytes) match, U+200B does not.
    const Regex ws = compile(R"(\s)");
    CHECK(ranges(ws,
                 "a\xC2\xA0"
                 "b\xE3\x80\x80"
                 "c\xE2\x80\x8B"
                 "d") == Ranges{{1, 3}, {4, 7}});
    // \p{N} covers Arabic-Indic digits (2 bytes each).
    const Regex digits = compile(R"(\p{N}+)");
    CHECK(ranges(digits, "x\xD9\xA3\xD9\xA4y") == Ranges{{1, 5}});
}

TEST_CASE("regex: literal patterns escape what regex::escape escapes", "[tokenize]") {
    CHECK(regex_escape("a.b") == "a\\.b");
    CHECK(regex_escape("-~#&") == "\\-\\~\\#\\&");
    CHECK(regex_escape("\xE2\x96\x81 x") == "\xE2\x96\x81 x");
    auto lit = Regex::literal("(.)|-~#&", "test");
    REQUIRE(lit.ok());
    CHECK(ranges(*lit, "a(.)|-~#&b(x)") == Ranges{{1, 9}});
    auto dot = Regex::literal(".", "test");
    REQUIRE(dot.ok());
    CHECK(ranges(*dot, "a.b.") == Ranges{{1, 2}, {3, 4}});
}

TEST_CASE("regex: bad patterns are errors naming the pattern", "[tokenize]") {
    auto open = Regex::compile("(ab", "tokenizer.json: pre_tokenizer.pattern");
    REQUIRE_FALSE(open.ok());
    CHECK(open.error().code == Errc::bad_format);
    CHECK_THAT(open.error().message,
               Catch::Contains("pre_tokenizer.pattern") && Catch::Contains("(ab"));
    auto bad_utf8 = Regex::compile("a\xFF", "test");
    REQUIRE_FALSE(bad_utf8.ok());
    CHECK(bad_utf8.error().code == Errc::bad_format);
    auto huge = Regex::compile(std::string(100'000, 'a'), "test");
    REQUIRE_FALSE(huge.ok());
    CHECK(huge.error().code == Errc::too_large);
}

TEST_CASE("regex: ill-formed UTF-8 text gives no matches and no crash", "[tokenize]") {
    const Regex re = compile(R"(\p{L}+|.)");
    CHECK(re.find_all("ab\xC3").empty());
    CHECK(re.find_all("\xED\xA0\x80").empty());  // a surrogate
    CHECK(re.find_all("\xF0\x9D\x94").empty());  // truncated
    CHECK(ranges(re, "ab\xC3\xA9") == Ranges{{0, 4}});
}

TEST_CASE("regex: moved-from regexes and concurrent searches", "[tokenize]") {
    Regex a = compile(R"(\p{L}+)");
    Regex b = std::move(a);
    CHECK(a.find_all("abc").empty());  // NOLINT(bugprone-use-after-move): defined as empty
    CHECK(ranges(b, "ab cd") == Ranges{{0, 2}, {3, 5}});

    std::string text;
    for (int k = 0; k < 2000; ++k)
        text += "word" + std::to_string(k) + " ";
    const Ranges expected = ranges(b, text);
    REQUIRE(expected.size() == 2000);
    std::vector<int> same(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int rep = 0; rep < 20; ++rep)
                same[t] += ranges(b, text) == expected ? 1 : 0;
        });
    for (auto& th : threads)
        th.join();
    CHECK(same == std::vector<int>(4, 20));
}
