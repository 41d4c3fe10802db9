// Tests of the strict JSON reader used for the shard index and config files: what the JSON
// library would accept silently must be refused.
#include "sutra/io/strict_json.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "support/paths.hpp"
#include "support/st_builder.hpp"

namespace {

using sutra::Errc;
using sutra::io::parse_strict_json;

}  // namespace

TEST_CASE("strict json: valid documents", "[io][json]") {
    auto r = parse_strict_json(" {\"a\": [1, 2.5, \"x\", null, true], \"b\": {\"c\": -3}} ", "doc");
    SUTRA_REQUIRE_OK(r);
    CHECK((*r)["a"].size() == 5);
    CHECK((*r)["a"][1] == 2.5);
    CHECK((*r)["b"]["c"] == -3);
    auto s = parse_strict_json("[]", "doc");
    SUTRA_REQUIRE_OK(s);
    CHECK(s->is_array());
}

TEST_CASE("strict json: refusals", "[io][json]") {
    SECTION("duplicate keys, also nested") {
        SUTRA_REQUIRE_ERROR(parse_strict_json("{\"a\":1,\"a\":2}", "doc"), Errc::bad_format, "doc",
                            "duplicate key \"a\"");
        SUTRA_REQUIRE_ERROR(parse_strict_json("{\"o\":{\"k\":1,\"k\":1}}", "doc"), Errc::bad_format,
                            "duplicate key \"k\"");
    }
    SECTION("the same key in sibling objects is fine") {
        SUTRA_REQUIRE_OK(parse_strict_json("[{\"k\":1},{\"k\":2}]", "doc"));
    }
    SECTION("nesting deeper than the limit, without recursion") {
        SUTRA_REQUIRE_ERROR(parse_strict_json(std::string(100000, '['), "doc"), Errc::bad_format,
                            "nesting deeper than 32");
        SUTRA_REQUIRE_OK(parse_strict_json("[[[]]]", "doc", {3, 1000}));
        SUTRA_REQUIRE_ERROR(parse_strict_json("[[[[]]]]", "doc", {3, 1000}), Errc::bad_format,
                            "nesting deeper than 3");
    }
    SECTION("byte-order mark") {
        SUTRA_REQUIRE_ERROR(parse_strict_json("\xef\xbb\xbf{}", "doc"), Errc::bad_format,
                            "byte-order mark");
    }
    SECTION("size limit") {
        SUTRA_REQUIRE_ERROR(parse_strict_json("[1, 2, 3]", "doc", {32, 8}), Errc::too_large, "doc",
                            "9 bytes", "8");
    }
    SECTION("invalid JSON") {
        SUTRA_REQUIRE_ERROR(parse_strict_json("", "doc"), Errc::bad_format, "doc");
        SUTRA_REQUIRE_ERROR(parse_strict_json("{\"a\":1,}", "doc"), Errc::bad_format, "doc");
        SUTRA_REQUIRE_ERROR(parse_strict_json("{} {}", "doc"), Errc::bad_format, "doc");
        SUTRA_REQUIRE_ERROR(parse_strict_json("[\"\xff\"]", "doc"), Errc::bad_format, "doc");
    }
    SECTION("NUL bytes after the document") {
        // nlohmann's lexer takes '\0' for the end of input; a file with content after a NUL
        // must not parse as if it ended there.
        SUTRA_REQUIRE_ERROR(parse_strict_json(std::string("{}\0\0", 4), "doc"), Errc::bad_format,
                            "doc");
        SUTRA_REQUIRE_ERROR(parse_strict_json(std::string("{}\0{\"weight_map\":1}", 19), "doc"),
                            Errc::bad_format, "doc");
    }
}

TEST_CASE("strict json: files", "[io][json]") {
    sutra::test::TempDir tmp;
    sutra::test::write_text(tmp / "a.json", "{\"x\":[1]}");
    auto r = sutra::io::read_strict_json_file((tmp / "a.json").string());
    SUTRA_REQUIRE_OK(r);
    CHECK((*r)["x"][0] == 1);
    SUTRA_REQUIRE_ERROR(sutra::io::read_strict_json_file((tmp / "a.json").string(), {32, 4}),
                        Errc::too_large, "a.json");
    SUTRA_REQUIRE_ERROR(sutra::io::read_strict_json_file((tmp / "none.json").string()),
                        Errc::not_found, "none.json");
    SUTRA_REQUIRE_ERROR(sutra::io::read_strict_json_file(tmp.path().string()),
                        Errc::invalid_argument, "directory");
}
