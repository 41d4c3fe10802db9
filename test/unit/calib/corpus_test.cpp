#include "sutra/calib/corpus.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "support/paths.hpp"
#include "support/st_builder.hpp"

using namespace sutra;
using sutra::test::TempDir;
namespace fs = std::filesystem;

namespace {

// One token per byte (id = byte value + 10): enough to see which text was read and where
// documents begin and end.
class ByteTokenizer final : public tokenize::Tokenizer {
  public:
    std::vector<int32_t> encode(std::string_view text, bool) const override {
        std::vector<int32_t> ids;
        for (unsigned char c : text)
            ids.push_back(static_cast<int32_t>(c) + 10);
        return ids;
    }
    std::string decode(std::span<const int32_t>, bool) const override { return ""; }
    int64_t vocab_size() const override { return 266; }
    std::vector<int32_t> leading_special_ids() const override { return {}; }
    int32_t token_to_id(std::string_view) const override { return -1; }
    std::string describe() const override { return "bytes"; }
};

void write(const fs::path& p, const std::string& s) {
    std::ofstream(p, std::ios::binary) << s;
}

std::string text_of(const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids)
        s += id == 1 ? '|' : static_cast<char>(id - 10);
    return s;
}

}  // namespace

TEST_CASE("corpus: a plain text file is one document, tokenized whole", "[calib]") {
    TempDir d;
    write(d / "a.txt", "hello\n\nworld\n");
    calib::CorpusOptions o;
    o.files = {d / "a.txt"};
    o.seq_len = 4;
    o.separator = 1;
    auto c = calib::read_corpus(o, ByteTokenizer());
    SUTRA_REQUIRE_OK(c);
    CHECK(c->documents == 1);
    CHECK(c->documents_used == 1);
    CHECK(text_of(c->tokens) == "hello\n\nworld\n");
    CHECK(c->tokens_read == 13);
}

TEST_CASE("corpus: JSON Lines documents are tokenized one by one and joined by the separator",
          "[calib]") {
    TempDir d;
    write(d / "pile.jsonl",
          "{\"text\": \"ab\", \"meta\": {\"pile_set_name\": \"x\"}}\n\n  "
          "\n{\"text\":\"c\\u00e9\"}\r\n");
    write(d / "more.txt", "{\"text\": \"zz\"}");  // detected by its first byte
    calib::CorpusOptions o;
    o.files = {d / "pile.jsonl", d / "more.txt"};
    o.seq_len = 4;
    o.separator = 1;
    auto c = calib::read_corpus(o, ByteTokenizer());
    SUTRA_REQUIRE_OK(c);
    CHECK(c->documents == 3);
    CHECK(text_of(c->tokens) == "ab|c\xc3\xa9|zz");
    CHECK(c->tokens_read == 7);  // separators not counted
}

TEST_CASE("corpus: bad JSON Lines are refused with the file and line", "[calib]") {
    TempDir d;
    calib::CorpusOptions o;
    o.seq_len = 4;
    struct Case {
        std::string text, expect;
    } cases[] = {{"{\"text\": \"a\"}\n{\"text\": 3}\n", "line 2: no string field \"text\""},
                 {"{\"text\": \"a\"}\n\n{nope\n", "line 3: not valid JSON"},
                 {"{\"text\": \"a\"}\n[1]\n", "line 2: not a JSON object"}};
    for (const auto& c : cases) {
        write(d / "bad.jsonl", c.text);
        o.files = {d / "bad.jsonl"};
        SUTRA_REQUIRE_ERROR(calib::read_corpus(o, ByteTokenizer()), Errc::bad_format, "bad.jsonl",
                            c.expect);
    }
    o.files = {d / "missing.txt"};
    CHECK_FALSE(calib::read_corpus(o, ByteTokenizer()).ok());
    write(d / "empty.jsonl", "\n\n");
    o.files = {d / "empty.jsonl"};
    SUTRA_REQUIRE_ERROR(calib::read_corpus(o, ByteTokenizer()), Errc::invalid_argument, "no text");
    o.files = {};
    SUTRA_REQUIRE_ERROR(calib::read_corpus(o, ByteTokenizer()), Errc::invalid_argument,
                        "no text files");
}

TEST_CASE("corpus: windows are spread evenly over a text longer than the budget", "[calib]") {
    TempDir d;
    // 26 chunks of 3 bytes: "aaa", "bbb", ..., "zzz".
    std::string s;
    for (char ch = 'a'; ch <= 'z'; ++ch)
        s += std::string(3, ch);
    write(d / "a.txt", s);
    calib::CorpusOptions o;
    o.files = {d / "a.txt"};
    o.seq_len = 4;      // chunks of 3 text tokens
    o.max_tokens = 12;  // 4 chunks wanted: chunk i * 26 / 4 = 0, 6, 13, 19
    auto c = calib::read_corpus(o, ByteTokenizer());
    SUTRA_REQUIRE_OK(c);
    CHECK(text_of(c->tokens) == "aaagggnnnttt");
    CHECK(c->tokens_read == 78);
    // A budget the text does not exceed takes all of it, in order.
    o.max_tokens = 0;
    auto all = calib::read_corpus(o, ByteTokenizer());
    SUTRA_REQUIRE_OK(all);
    CHECK(text_of(all->tokens) == s);
}

TEST_CASE("corpus: a large corpus is sampled by documents in a seeded order, never read whole",
          "[calib]") {
    TempDir d;
    // 40 MiB of JSON Lines (over the 32 MiB read-everything limit): 40 * 1024 documents of
    // ~1 KiB, each spelling its own number.
    {
        std::ofstream f(d / "big.jsonl", std::ios::binary);
        const std::string pad(1000, 'x');
        for (int i = 0; i < 40 * 1024; ++i)
            f << "{\"text\": \"<" << i << ">" << pad << "\"}\n";
    }
    calib::CorpusOptions o;
    o.files = {d / "big.jsonl"};
    o.seq_len = 257;
    o.max_tokens = 256 * 8;
    o.separator = 1;
    auto a = calib::read_corpus(o, ByteTokenizer());
    auto b = calib::read_corpus(o, ByteTokenizer());
    SUTRA_REQUIRE_OK(a);
    SUTRA_REQUIRE_OK(b);
    CHECK(a->documents == 40 * 1024);
    CHECK(a->documents_used == 3);  // ~1 KiB each: three cover 2048 tokens
    CHECK(a->tokens.size() == 256 * 8);
    CHECK(a->tokens == b->tokens);  // deterministic
    const std::string first = text_of(a->tokens).substr(0, 8);
    CHECK(first != "<0>xxxxx");  // not simply the first document
    o.seed = 7;
    auto other = calib::read_corpus(o, ByteTokenizer());
    SUTRA_REQUIRE_OK(other);
    CHECK(other->tokens != a->tokens);
}
