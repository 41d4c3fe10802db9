#include "sutra/model/tokenizer.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "unit/model/model_test_support.hpp"

using sutra::Errc;
using sutra::model::Tokenizer;
namespace fx = sutra::test::model;

namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t u) {
    for (int shift = 0; shift < 32; shift += 8)
        out.push_back(static_cast<uint8_t>(u >> shift));
}

void put_i32(std::vector<uint8_t>& out, int32_t v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    put_u32(out, u);
}

// A llama2.c tokenizer image: <unk>, BOS, EOS, 256 byte tokens, then `extra`.
std::vector<uint8_t> make_tokenizer(const std::vector<std::pair<float, std::string>>& extra) {
    std::vector<std::pair<float, std::string>> all = {
        {0.0f, "<unk>"}, {0.0f, "\n<s>\n"}, {0.0f, "\n</s>\n"}};
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        all.emplace_back(0.0f, buf);
    }
    all.insert(all.end(), extra.begin(), extra.end());
    std::vector<uint8_t> out;
    put_i32(out, 16);
    for (const auto& [score, s] : all) {
        uint32_t f;
        std::memcpy(&f, &score, 4);
        put_u32(out, f);
        put_i32(out, static_cast<int32_t>(s.size()));
        for (char ch : s)
            out.push_back(static_cast<uint8_t>(ch));
    }
    return out;
}

// Ids 259.. of the synthetic vocabulary.
const std::vector<std::pair<float, std::string>> kExtra = {
    {-1.0f, " "},  {-1.0f, "a"},   {-1.0f, "b"},   {-1.0f, "c"}, {-5.0f, "ab"},  {-2.0f, "bc"},
    {-3.0f, " a"}, {-4.0f, "abc"}, {-6.0f, " ab"}, {-1.0f, "é"}, {-9.0f, " abc"}};
constexpr int32_t kSpace = 259, kA = 260, kB = 261, kC = 262, kAB = 263, kBC = 264, kSpA = 265,
                  kABC = 266, kSpAB = 267, kE = 268, kSpABC = 269;

Tokenizer synthetic() {
    auto bytes = make_tokenizer(kExtra);
    auto t = Tokenizer::parse(bytes, "synthetic");
    REQUIRE(t.ok());
    return std::move(t).value();
}

// The O(n^2) merge loop of llama2.c run.c encode(), written out plainly, as an oracle.
std::vector<int32_t> naive_encode(const Tokenizer& t, const std::string& text, bool bos) {
    auto find = [&](const std::string& s) {
        for (int32_t i = 0; i < t.vocab_size(); ++i) {
            if (t.piece(i) == s) return i;
        }
        return -1;
    };
    std::vector<int32_t> ids;
    if (bos) ids.push_back(1);
    if (!text.empty()) ids.push_back(find(" "));
    std::string buf;
    for (size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if ((c & 0xC0) != 0x80) buf.clear();
        buf.push_back(text[i]);
        if (i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80 &&
            buf.size() < 4) {
            continue;
        }
        const int32_t id = find(buf);
        if (id >= 0) {
            ids.push_back(id);
        } else {
            for (char b : buf)
                ids.push_back(3 + static_cast<unsigned char>(b));
        }
        buf.clear();
    }
    while (true) {
        float best = -1e10f;
        int32_t best_id = -1;
        size_t best_i = 0;
        for (size_t i = 0; i + 1 < ids.size(); ++i) {
            const int32_t id = find(t.piece(ids[i]) + t.piece(ids[i + 1]));
            if (id >= 0 && t.score(id) > best) {
                best = t.score(id);
                best_id = id;
                best_i = i;
            }
        }
        if (best_id < 0) break;
        ids[best_i] = best_id;
        ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(best_i) + 1);
    }
    return ids;
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("tokenizer: merges by score, leftmost first", "[model][tokenizer]") {
    const Tokenizer t = synthetic();
    REQUIRE(t.vocab_size() == 259 + static_cast<int32_t>(kExtra.size()));
    CHECK(t.encode("", false).empty());
    CHECK(t.encode("", true) == std::vector<int32_t>{Tokenizer::kBos});
    // bc (-2) merges first, then " a" (-3), then " a" + "bc" = " abc" (-9); "ab" (-5)
    // never gets its chance.
    CHECK(t.encode("abc", false) == std::vector<int32_t>{kSpABC});
    CHECK(t.encode("abc ab", false) == std::vector<int32_t>{kSpABC, kSpAB});
    CHECK(t.encode("ab", true) == std::vector<int32_t>{Tokenizer::kBos, kSpAB});
    CHECK(t.encode("b b", false) == std::vector<int32_t>{kSpace, kB, kSpace, kB});
    CHECK(t.encode("cc", false) == std::vector<int32_t>{kSpace, kC, kC});
    (void)kA;
    (void)kAB;
    (void)kABC;
    (void)kSpA;
    (void)kBC;
}

TEST_CASE("tokenizer: unknown characters fall back to byte tokens", "[model][tokenizer]") {
    const Tokenizer t = synthetic();
    // "é" (C3 A9) is a token; "日" (E6 97 A5) is not: three byte tokens.
    CHECK(t.encode("é", false) == std::vector<int32_t>{kSpace, kE});
    CHECK(t.encode("日", false) == std::vector<int32_t>{kSpace, 3 + 0xE6, 3 + 0x97, 3 + 0xA5});
    CHECK(t.decode(t.encode("日é", true)) == "日é");
    // A stray continuation byte and a newline.
    CHECK(t.encode("\x80\n", false) == std::vector<int32_t>{kSpace, 3 + 0x80, 3 + '\n'});
    CHECK(t.decode_piece(-1, 3 + '\n') == "\n");
}

TEST_CASE("tokenizer: decode strips the space after BOS only", "[model][tokenizer]") {
    const Tokenizer t = synthetic();
    CHECK(t.decode(std::vector<int32_t>{Tokenizer::kBos, kSpA, kSpace, kB}) == "a b");
    CHECK(t.decode(std::vector<int32_t>{kSpA, kSpace, kB}) == " a b");
    CHECK(t.decode_piece(Tokenizer::kBos, kSpA) == "a");
    CHECK(t.decode_piece(kB, kSpA) == " a");
    CHECK(t.decode_piece(0, 99999) == "");
}

TEST_CASE("tokenizer: priority-queue merging equals the naive loop", "[model][tokenizer]") {
    const Tokenizer t = synthetic();
    std::mt19937 rng(3);
    const std::vector<std::string> alphabet = {"a", "b", "c", " ", "é", "日", "\n", "x"};
    for (int round = 0; round < 300; ++round) {
        std::string s;
        const auto n = rng() % 24;
        for (unsigned i = 0; i < n; ++i)
            s += alphabet[rng() % alphabet.size()];
        INFO("text: " << s);
        CHECK(t.encode(s, true) == naive_encode(t, s, true));
        CHECK(t.encode(s, false) == naive_encode(t, s, false));
    }
}

TEST_CASE("tokenizer: corrupt files are errors", "[model][tokenizer]") {
    const auto good = make_tokenizer(kExtra);
    REQUIRE(Tokenizer::parse(good, "t").ok());

    SECTION("empty") {
        auto r = Tokenizer::parse(std::span<const uint8_t>(), "t");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::bad_format);
    }
    SECTION("truncated anywhere") {
        for (size_t cut = 0; cut < good.size(); cut += 7) {
            std::vector<uint8_t> bytes(good.begin(),
                                       good.begin() + static_cast<std::ptrdiff_t>(cut));
            auto r = Tokenizer::parse(bytes, "t", 259 + static_cast<int64_t>(kExtra.size()));
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().code == Errc::bad_format);
        }
    }
    SECTION("absurd length") {
        auto bytes = good;
        const int32_t huge = 1'000'000'000;
        std::memcpy(bytes.data() + 4 + 4, &huge, 4);  // length of token 0
        auto r = Tokenizer::parse(bytes, "t");
        REQUIRE_FALSE(r.ok());
        CHECK(contains(r.error().message, "length"));
        const int32_t neg = -5;
        std::memcpy(bytes.data() + 4 + 4, &neg, 4);
        CHECK_FALSE(Tokenizer::parse(bytes, "t").ok());
    }
    SECTION("bad header") {
        auto bytes = good;
        const int32_t zero = 0;
        std::memcpy(bytes.data(), &zero, 4);
        CHECK_FALSE(Tokenizer::parse(bytes, "t").ok());
    }
    SECTION("non-finite score") {
        auto bytes = good;
        const float nan = std::numeric_limits<float>::quiet_NaN();
        std::memcpy(bytes.data() + 4, &nan, 4);
        CHECK_FALSE(Tokenizer::parse(bytes, "t").ok());
    }
    SECTION("wrong vocabulary size") {
        auto r = Tokenizer::parse(good, "t", 512);
        REQUIRE_FALSE(r.ok());
        CHECK(contains(r.error().message, "512"));
    }
}

TEST_CASE("tokenizer: token id files", "[model][tokenizer]") {
    auto r = sutra::model::parse_token_ids("1 2 3\n# a comment 999\n\t 4\n", 10, "ids.txt");
    REQUIRE(r.ok());
    CHECK(*r == std::vector<int32_t>{1, 2, 3, 4});
    auto bad = sutra::model::parse_token_ids("1 2\n3 x7", 10, "ids.txt");
    REQUIRE_FALSE(bad.ok());
    CHECK(contains(bad.error().message, "ids.txt"));
    CHECK(contains(bad.error().message, "line 2"));
    auto big = sutra::model::parse_token_ids("1 600", 512, "ids.txt");
    REQUIRE_FALSE(big.ok());
    CHECK(contains(big.error().message, "600"));
    CHECK_FALSE(sutra::model::parse_token_ids("-1", 512, "ids.txt").ok());
    CHECK_FALSE(sutra::model::parse_token_ids("99999999999999", 512, "ids.txt").ok());
    CHECK(sutra::model::parse_token_ids("", 512, "ids.txt")->empty());
}

TEST_CASE("tokenizer: a model folder without tok512.bin asks for --tokens", "[model][tokenizer]") {
    auto dir = std::filesystem::temp_directory_path() / "sutra-model-test-no-tokenizer";
    std::filesystem::create_directories(dir);
    auto r = Tokenizer::load_for_model(dir);
    std::filesystem::remove_all(dir);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::not_found);
    CHECK(contains(r.error().message, "--tokens"));
}

TEST_CASE("tokenizer: tok512.bin", "[model][tokenizer][shared]") {
    const auto file = fx::models_dir() / "stories260K" / "tok512.bin";
    REQUIRE(std::filesystem::exists(file));
    auto r = Tokenizer::load(file, 512);
    REQUIRE(r.ok());
    const Tokenizer& t = *r;
    CHECK(t.vocab_size() == 512);
    CHECK(t.encode("", true) == std::vector<int32_t>{1});

    // The golden decode: ids -> text.
    const auto golden = fx::read_golden(fx::models_dir() / "stories260K" / "golden_greedy_256.txt");
    REQUIRE(golden.ids.size() == 257);
    CHECK(t.decode(golden.ids) == golden.text);

    // Round trips, and agreement with the naive merge loop on real text.
    const std::string text = fx::read_text(fx::shared_dir() / "text" / "tinystories_eval.txt");
    REQUIRE(text.size() > 100000);
    const std::string para = text.substr(0, text.find('\n'));
    const auto ids = t.encode(para, true);
    CHECK(ids.front() == 1);
    CHECK(ids.size() * 3 < para.size() * 2);
    CHECK(t.decode(ids) == para);
    CHECK(ids == naive_encode(t, para, true));
    CHECK(t.encode("Once upon a time", false) == naive_encode(t, "Once upon a time", false));

    const std::string odd = "Lily saw a 日本 cat ™ – naïve";
    CHECK(t.encode(odd, true) == naive_encode(t, odd, true));
    CHECK(t.decode(t.encode(odd, true)) == odd);
    const auto nihon = t.encode("日", false);
    CHECK(nihon.size() == 4);
    CHECK(nihon[1] == 3 + 0xE6);

    // Whole file at once: a lossless round trip.
    const auto all = t.encode(text, false);
    CHECK(all.size() > 95000);
    CHECK(all.size() < 103000);
    CHECK(t.decode(all) == " " + text);
}

TEST_CASE("tokenizer: truncated tok512.bin is an error", "[model][tokenizer][shared]") {
    const auto file = fx::models_dir() / "stories260K" / "tok512.bin";
    REQUIRE(std::filesystem::exists(file));
    const std::string s = fx::read_text(file);
    const std::vector<uint8_t> bytes(s.begin(), s.end());
    for (size_t cut : {size_t{0}, size_t{3}, size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
        std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
        auto r = Tokenizer::parse(part, "tok512.bin", 512);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::bad_format);
        CHECK(contains(r.error().message, "tok512.bin"));
    }
}
