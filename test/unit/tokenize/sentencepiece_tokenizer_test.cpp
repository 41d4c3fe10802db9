#include "sutra/tokenize/sentencepiece_tokenizer.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/model/tokenizer.hpp"

using namespace sutra;
using sutra::test::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path kMistral = fs::path(SUTRA_SHARED_DIR) / "tokenizers" / "mistral-7b-v0.1";
const fs::path kText = fs::path(SUTRA_SHARED_DIR) / "tokenizers" / "text";

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

std::vector<int32_t> golden_ids(const fs::path& p) {
    auto ids = model::parse_token_ids(slurp(p), 1 << 24, p.string());
    REQUIRE(ids.ok());
    return *ids;
}

}  // namespace

TEST_CASE("sentencepiece: Mistral's tokenizer.model gives the reference ids on plain text",
          "[tokenize][shared]") {
    auto t = tokenize::load_sentencepiece_tokenizer(kMistral / "tokenizer.model");
    SUTRA_REQUIRE_OK(t);
    const auto& tok = **t;
    CHECK(tok.vocab_size() == 32000);
    CHECK(tok.leading_special_ids() == std::vector<int32_t>{1});
    CHECK(tok.token_to_id("<s>") == 1);
    CHECK(tok.token_to_id("no such piece") == -1);
    CHECK_THAT(tok.describe(), Catch::Contains("SentencePiece") && Catch::Contains("32000"));
    // The TinyStories text spells no special token, so SentencePiece and the tokenizer.json
    // of the same model agree with the reference (golden ids from the tokenizers crate).
    const std::string text = slurp(kText / "tinystories_eval_20k.txt");
    const auto special = golden_ids(kMistral / "golden" / "tinystories_eval_20k.special.ids");
    const auto plain = golden_ids(kMistral / "golden" / "tinystories_eval_20k.nospecial.ids");
    CHECK(tok.encode(text, true) == special);
    CHECK(tok.encode(text, false) == plain);
    CHECK(tok.decode(plain, false) == text);
    CHECK(tok.decode(special, true) == text);
}

TEST_CASE("sentencepiece: tokenizer_config.json's add_bos_token and add_eos_token are honoured",
          "[tokenize][shared]") {
    TempDir d;
    fs::copy_file(kMistral / "tokenizer.model", d / "tokenizer.model");
    std::ofstream(d / "tokenizer_config.json")
        << R"({"add_bos_token": false, "add_eos_token": true})";
    auto t = tokenize::load_sentencepiece_tokenizer(d / "tokenizer.model");
    SUTRA_REQUIRE_OK(t);
    const auto ids = (*t)->encode("Hello", true);
    REQUIRE(ids.size() >= 2);
    CHECK(ids.front() != 1);
    CHECK(ids.back() == 2);
    CHECK((*t)->leading_special_ids().empty());
    std::ofstream(d / "tokenizer_config.json") << R"({"add_bos_token": "yes"})";
    SUTRA_REQUIRE_ERROR(tokenize::load_sentencepiece_tokenizer(d / "tokenizer.model"),
                        Errc::bad_format, "add_bos_token", "true or false");
}

TEST_CASE("sentencepiece: what is not a SentencePiece model is refused, never a crash",
          "[tokenize]") {
    const std::string junk[] = {"", "\x0a\xff\xff\xff\xff\x0f", "not a model at all",
                                std::string("\x0a\x05\x0a\x01\x61\x15", 6)};
    for (const auto& j : junk) {
        const auto* p = reinterpret_cast<const uint8_t*>(j.data());
        auto t = tokenize::SentencePieceTokenizer::parse(std::span<const uint8_t>(p, j.size()),
                                                         "junk.model", {});
        CHECK_FALSE(t.ok());
        if (!t.ok()) CHECK_THAT(t.error().message, Catch::Contains("junk.model"));
    }
}
