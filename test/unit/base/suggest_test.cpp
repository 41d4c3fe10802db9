// "Did you mean": the distance is the textbook optimal-string-alignment distance, and the
// suggestions are the ones a person would expect for the typos users make.
#include "sutra/base/suggest.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using sutra::did_you_mean;
using sutra::edit_distance;
using sutra::suggest;
using Names = std::vector<std::string>;

TEST_CASE("suggest: edit distance", "[base][suggest]") {
    CHECK(edit_distance("", "") == 0);
    CHECK(edit_distance("abc", "") == 3);
    CHECK(edit_distance("", "abc") == 3);
    CHECK(edit_distance("kitten", "sitting") == 3);  // the classic example
    CHECK(edit_distance("flaw", "lawn") == 2);
    CHECK(edit_distance("quantise", "quantize") == 1);
    CHECK(edit_distance("agressive", "aggressive") == 1);
    CHECK(edit_distance("inpsect", "inspect") == 1);  // a swap of neighbours is one edit
    CHECK(edit_distance("ca", "abc") == 3);           // OSA, not unrestricted Damerau
    CHECK(edit_distance("F32", "f32") == 0);          // letter case does not count
    CHECK(edit_distance("awk", "awq") == 1);
}

TEST_CASE("suggest: the likely intended name", "[base][suggest]") {
    const Names commands = {"quantize", "inspect",   "validate", "dequantize",
                            "eval",     "calibrate", "bench"};
    CHECK(suggest("quantise", commands) == Names{"quantize"});
    CHECK(suggest("inpsect", commands) == Names{"inspect"});
    CHECK(suggest("valdate", commands) == Names{"validate"});
    CHECK(suggest("Bench", commands) == Names{"bench"});
    CHECK(suggest("calib", commands) == Names{"calibrate"});  // the only one it begins
    CHECK(suggest("squash", commands).empty());
    CHECK(suggest("x", commands).empty());
    CHECK(suggest("quantize", commands).empty());  // nothing to correct
    CHECK(suggest("", commands).empty());

    const Names presets = {"aggressive", "balanced", "conservative"};
    CHECK(suggest("agressive", presets) == Names{"aggressive"});
    CHECK(suggest("balance", presets) == Names{"balanced"});
    CHECK(suggest("fastest", presets).empty());

    const Names methods = {"auto", "rtn", "awq"};
    CHECK(suggest("awk", methods) == Names{"awq"});
    CHECK(suggest("rnt", methods) == Names{"rtn"});
    CHECK(suggest("gptq", methods).empty());
    CHECK(suggest("abc", methods).empty());  // 2 edits from awq: too far for 3 letters

    // Equally close candidates are all named, in the order given.
    CHECK(suggest("F12", Names{"F16", "F32", "F64"}) == Names{"F16", "F32"});
}

TEST_CASE("suggest: the message", "[base][suggest]") {
    CHECK(did_you_mean("awk", Names{"auto", "rtn", "awq"}) == "did you mean \"awq\"?");
    CHECK(did_you_mean("F12", Names{"F16", "F32"}) == "did you mean \"F16\" or \"F32\"?");
    CHECK(did_you_mean("xx", Names{"F16", "F32"}).empty());
    CHECK(sutra::join_names(Names{"a", "b", "c"}) == "a, b, c");
}
