#include "sutra/tokenize/precompiled.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "unit/tokenize/reference_support.hpp"

using sutra::Errc;
using sutra::tokenize::decode_base64;
using sutra::tokenize::PrecompiledCharsMap;

namespace {

// Builds a charsmap blob for `rules` (key -> replacement): a Darts-clone double array laid
// out by first fit, written independently of the reader. A unit at position p with offset o
// has its children c at (p ^ o) ^ c and, when it has a value, the value unit at p ^ o. As in
// Darts-clone, no two nodes share a base p ^ o, so a label identifies its parent.
std::vector<uint8_t> build_charsmap(const std::map<std::string, std::string>& rules) {
    struct Node {
        std::map<unsigned char, int> children;
        int value = -1;  // pool offset
    };
    std::vector<Node> nodes(1);
    std::string pool;
    for (const auto& [key, replacement] : rules) {
        int n = 0;
        for (char ch : key) {
            const auto c = static_cast<unsigned char>(ch);
            auto it = nodes[n].children.find(c);
            if (it == nodes[n].children.end()) {
                nodes.emplace_back();
                it = nodes[n].children.emplace(c, static_cast<int>(nodes.size()) - 1).first;
            }
            n = it->second;
        }
        nodes[n].value = static_cast<int>(pool.size());
        pool += replacement;
        pool.push_back('\0');
    }
    std::vector<uint32_t> units(1, 0);
    std::vector<bool> used(1, true);
    std::vector<bool> base_used;
    auto ensure = [&](std::size_t size) {
        if (units.size() < size)
            units.resize(size, 0), used.resize(size, false), base_used.resize(size, false);
    };
    // Place node n (already at position pos) and its subtree.
    std::vector<std::pair<int, std::size_t>> todo{{0, 0}};
    while (!todo.empty()) {
        const auto [n, pos] = todo.back();
        todo.pop_back();
        const Node& node = nodes[n];
        if (node.children.empty() && node.value < 0) continue;
        std::size_t base = 1;
        for (;; ++base) {
            ensure(base + 256);
            if (base_used[base] || (node.value >= 0 && used[base])) continue;
            bool free = true;
            for (const auto& [c, child] : node.children)
                free = free && !used[base ^ c];
            if (free) break;
        }
        base_used[base] = true;
        const std::size_t offset = pos ^ base;
        REQUIRE(offset < (1u << 21));
        units[pos] |= static_cast<uint32_t>(offset) << 10;
        if (node.value >= 0) {
            used[base] = true;
            units[base] = 0x80000000u | static_cast<uint32_t>(node.value);
        }
        for (const auto& [c, child] : node.children) {
            const std::size_t q = base ^ c;
            used[q] = true;
            units[q] = c | (nodes[child].value >= 0 ? (1u << 8) : 0u);
            todo.emplace_back(child, q);
        }
    }
    std::vector<uint8_t> blob;
    auto put = [&](uint32_t u) {
        for (int s = 0; s < 32; s += 8)
            blob.push_back(static_cast<uint8_t>(u >> s));
    };
    put(static_cast<uint32_t>(units.size() * 4));
    for (uint32_t u : units)
        put(u);
    blob.insert(blob.end(), pool.begin(), pool.end());
    return blob;
}

PrecompiledCharsMap parse(const std::vector<uint8_t>& blob) {
    auto m = PrecompiledCharsMap::parse(blob, "test");
    INFO((m.ok() ? std::string() : m.error().message));
    REQUIRE(m.ok());
    return std::move(m).value();
}

}  // namespace

TEST_CASE("precompiled: the shortest rule for a prefix wins", "[tokenize]") {
    const auto map = parse(build_charsmap(
        {{"a", "X"}, {"ab", "Y"}, {"\xEF\xBC\xA1", "A"}, {"q", ""}, {"e\xCC\x81", "\xC3\xA9"}}));
    CHECK(map.transform("a") == "X");
    CHECK(map.transform("ab") == "X");
    CHECK(map.transform("abc") == "X");
    CHECK(map.transform("b") == std::nullopt);
    CHECK(map.transform("") == std::nullopt);
    CHECK(map.transform("q") == "");
    CHECK(map.transform("e") == std::nullopt);  // a prefix of a key, not a key
    CHECK(map.transform("e\xCC\x81") == "\xC3\xA9");
    CHECK(map.transform(std::string("\0a", 2)) == std::nullopt);  // a NUL ends the key
}

TEST_CASE("precompiled: normalizing goes grapheme by grapheme, as the crate", "[tokenize]") {
    const auto map = parse(build_charsmap({{"a", "X"},
                                           {"\xEF\xBC\xA1", "A"},
                                           {"q", ""},
                                           {"e\xCC\x81", "\xC3\xA9"},
                                           {"\xE2\x80\x8D", " "}}));
    CHECK(map.normalize("") == "");
    CHECK(map.normalize("bab q!") == "bXb !");
    // A short cluster takes the rule of its shortest matching prefix, whole: the accent of
    // "a\u0301" goes, as does the one of full-width A + U+0301.
    CHECK(map.normalize("a\xCC\x81z") == "Xz");
    CHECK(map.normalize("\xEF\xBC\xA1\xCC\x81") == "A");
    CHECK(map.normalize("e\xCC\x81") == "\xC3\xA9");
    // No rule for the cluster: code point by code point ("b\u0301" has none at all).
    CHECK(map.normalize("b\xCC\x81") == "b\xCC\x81");
    // A cluster of 6 bytes or more is always done code point by code point: the ZWJ of
    // U+1F468 U+200D U+1F469 has a rule of its own.
    CHECK(map.normalize("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9") ==
          "\xF0\x9F\x91\xA8 \xF0\x9F\x91\xA9");
}

TEST_CASE("precompiled: broken blobs are bad_format, never out-of-bounds reads", "[tokenize]") {
    auto code = [](const std::vector<uint8_t>& blob) {
        auto m = PrecompiledCharsMap::parse(blob, "normalizer");
        return m.ok() ? std::optional<Errc>() : std::optional<Errc>(m.error().code);
    };
    CHECK(code({}) == Errc::bad_format);
    CHECK(code({4, 0, 0}) == Errc::bad_format);
    CHECK(code({0, 0, 0, 0}) == Errc::bad_format);                    // empty trie
    CHECK(code({6, 0, 0, 0, 1, 2, 3, 4, 5, 6}) == Errc::bad_format);  // not a multiple of 4
    CHECK(code({8, 0, 0, 0, 1, 2, 3, 4}) == Errc::bad_format);        // past the end
    CHECK(code({0xFC, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4}) == Errc::bad_format);
    auto bad_pool = build_charsmap({{"a", "X"}});
    bad_pool.back() = 0xFF;  // the pool is no longer UTF-8
    CHECK(code(bad_pool) == Errc::bad_format);
    auto named = PrecompiledCharsMap::parse(std::vector<uint8_t>{1, 0},
                                            "tokenizer.json: normalizer.normalizers[0]");
    REQUIRE_FALSE(named.ok());
    CHECK_THAT(named.error().message, Catch::Contains("normalizers[0]"));

    // Links that point anywhere: every unit value, including offsets far past the array and
    // pool offsets past the pool or inside a character, must just mean "no rule".
    std::vector<uint8_t> blob = build_charsmap({{"a", "\xC3\xA9"}, {"b", "Y"}});
    const std::size_t trie_units = (blob[0] | (blob[1] << 8)) / 4;
    const std::vector<uint32_t> nasty = {0xFFFFFFFFu, 0x7FFFFFFFu,      0x80000001u, 0x00000161u,
                                         0xFFFFFD61u, 0x80000000u | 1u, 0x0000FF00u};
    for (std::size_t k = 0; k < trie_units; ++k) {
        for (uint32_t v : nasty) {
            std::vector<uint8_t> b = blob;
            for (int s = 0; s < 4; ++s)
                b[4 + 4 * k + s] = static_cast<uint8_t>(v >> (8 * s));
            auto m = PrecompiledCharsMap::parse(b, "test");
            REQUIRE(m.ok());
            const std::string out = m->normalize("abc a\xCC\x81 \xF0\x9F\x98\x80");
            CHECK_FALSE(out.empty());
        }
    }
}

TEST_CASE("precompiled: base64", "[tokenize]") {
    auto ok = [](std::string_view s) {
        auto r = decode_base64(s, "test");
        REQUIRE(r.ok());
        return std::string(r->begin(), r->end());
    };
    CHECK(ok("") == "");
    CHECK(ok("TWFu") == "Man");
    CHECK(ok("TWE=") == "Ma");
    CHECK(ok("TWE") == "Ma");
    CHECK(ok("TQ==") == "M");
    CHECK(ok("+/+/") == "\xFB\xFF\xBF");
    CHECK(decode_base64("TWFu!", "x").error().code == Errc::bad_format);
    CHECK(decode_base64("T", "x").error().code == Errc::bad_format);
    CHECK(decode_base64("TQ=", "x").error().code == Errc::bad_format);
    CHECK(decode_base64("TW Fu", "x").error().code == Errc::bad_format);
}

TEST_CASE("precompiled: flan-t5-large's charsmap, as the reference crate applies it",
          "[tokenize][shared]") {
    const nlohmann::json tok = sutra::test::tokenize::read_json_file(
        sutra::test::tokenize::shared_tokenizers() / "flan-t5-large" / "tokenizer.json");
    const std::string b64 =
        tok["normalizer"]["normalizers"][0]["precompiled_charsmap"].get<std::string>();
    auto blob = decode_base64(b64, "flan-t5");
    REQUIRE(blob.ok());
    const auto map = parse(*blob);
    // Expected strings: the npm `tokenizers@0.23.2` Precompiled normalizer on this charsmap.
    CHECK(map.normalize("\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3") == "ABC");  // full-width
    CHECK(map.normalize("a\xC2\xA0"
                        "b") == "a b");               // NBSP
    CHECK(map.normalize("x\xE3\x80\x80y") == "x y");  // U+3000
    CHECK(map.normalize("\xEF\xAC\x81") == "fi");
    CHECK(map.normalize("\xC2\xBD") ==
          "1\xE2\x81\x84"
          "2");
    CHECK(map.normalize("\xE2\x80\xA6") == "...");
    CHECK(map.normalize("\xE2\x91\xA0") == "1");
    CHECK(map.normalize("\xE2\x84\xA2") == "TM");
    CHECK(map.normalize("a\x07"
                        "b") == "ab");
    CHECK(map.normalize("e\xCC\x81") == "\xC3\xA9");
    CHECK(map.normalize("\xE2\x84\xAB") == "\xC3\x85");
    CHECK(map.normalize("x\xE2\x80\x8By") == "x y");
    CHECK(map.normalize("\xEF\xBB\xBFx") == " x");
    // Five-byte clusters take the rule of their first code point, whole.
    CHECK(map.normalize("\xE1\xBA\x9B\xCC\xA3") == "\xE1\xB9\xA1");
    CHECK(map.normalize("\xEF\xBC\xA1\xCC\x81") == "A");
    // Six bytes and more: code point by code point.
    CHECK(map.normalize("\xEF\xBD\xB6\xEF\xBE\x9E") == "\xE3\x82\xAB\xE3\x82\x99");
    CHECK(
        map.normalize("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7") ==
        "\xF0\x9F\x91\xA8 \xF0\x9F\x91\xA9 \xF0\x9F\x91\xA7");
    CHECK(map.normalize("caf\xC3\xA9 \xED\x9E\xA3") == "caf\xC3\xA9 \xED\x9E\xA3");
}

TEST_CASE("precompiled: random blobs never crash", "[tokenize]") {
    std::mt19937 rng(1234);
    const std::vector<uint8_t> good = build_charsmap({{"a", "X"}, {"\xC3\xA9", "e"}, {"q", ""}});
    int parsed = 0;
    for (int round = 0; round < 3000; ++round) {
        std::vector<uint8_t> b = good;
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int f = 0; f < flips; ++f)
            b[rng() % b.size()] = static_cast<uint8_t>(rng());
        if (rng() % 4 == 0) b.resize(rng() % (b.size() + 1));
        auto m = PrecompiledCharsMap::parse(b, "fuzz");
        if (!m.ok()) continue;
        ++parsed;
        (void)m->normalize("aq\xC3\xA9 b\xCC\x81 \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9");
    }
    CHECK(parsed > 100);
}
