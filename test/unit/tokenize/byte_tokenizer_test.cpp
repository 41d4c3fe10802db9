#include "sutra/tokenize/byte_tokenizer.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

TEST_CASE("byte tokenizer: ids are the bytes", "[tokenize][bytes]") {
    auto tok = sutra::tokenize::make_byte_tokenizer();
    REQUIRE(tok);
    CHECK(tok->vocab_size() == 256);
    CHECK(tok->describe() == "bytes: 256 tokens");
    CHECK(tok->leading_special_ids().empty());

    CHECK(tok->encode("Hi!", false) == std::vector<int32_t>{72, 105, 33});
    CHECK(tok->encode("Hi!", true) == std::vector<int32_t>{72, 105, 33});  // nothing added
    CHECK(tok->encode("", true).empty());
    // UTF-8 is its bytes: "é" = C3 A9; bytes >= 0x80 are 128..255, never negative.
    CHECK(tok->encode("\xc3\xa9", false) == std::vector<int32_t>{0xc3, 0xa9});

    // Every byte value, NUL and invalid UTF-8 included, round-trips.
    std::string all;
    for (int b = 0; b < 256; ++b)
        all.push_back(static_cast<char>(b));
    const auto ids = tok->encode(all, false);
    REQUIRE(ids.size() == 256);
    for (int b = 0; b < 256; ++b)
        CHECK(ids[static_cast<size_t>(b)] == b);
    CHECK(tok->decode(ids, false) == all);
    CHECK(tok->decode(ids, true) == all);
}

TEST_CASE("byte tokenizer: ids outside 0..255 give no text", "[tokenize][bytes]") {
    auto tok = sutra::tokenize::make_byte_tokenizer();
    const std::vector<int32_t> ids = {65, -1, 256, 66, 100000, 67};
    CHECK(tok->decode(ids, false) == "ABC");
    CHECK(tok->decode(std::vector<int32_t>{}, false).empty());
}

TEST_CASE("byte tokenizer: token_to_id of one byte", "[tokenize][bytes]") {
    auto tok = sutra::tokenize::make_byte_tokenizer();
    CHECK(tok->token_to_id("a") == 97);
    CHECK(tok->token_to_id(std::string(1, '\0')) == 0);
    CHECK(tok->token_to_id("\xff") == 255);
    CHECK(tok->token_to_id("ab") == -1);
    CHECK(tok->token_to_id("") == -1);
}
