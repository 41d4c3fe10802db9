#include "sutra/tokenize/discovery.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "support/paths.hpp"
#include "support/st_builder.hpp"

using namespace sutra;
using sutra::test::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path kTokenizers = fs::path(SUTRA_SHARED_DIR) / "tokenizers";
const fs::path kStories = fs::path(SUTRA_SHARED_DIR) / "models" / "stories260K-hf";

void link_or_copy(const fs::path& from, const fs::path& to) {
    fs::create_symlink(from, to);
}

}  // namespace

TEST_CASE("discovery: a folder without a tokenizer names what it looked for and the fixes",
          "[tokenize]") {
    TempDir d;
    SUTRA_REQUIRE_ERROR(tokenize::find_tokenizer_file(d.path()), Errc::not_found, "tokenizer.json",
                        "tokenizer.model", "tok512.bin", "--tokenizer", "--tokens-file");
    SUTRA_REQUIRE_ERROR(tokenize::resolve_tokenizer_path(d / "nope.json"), Errc::not_found,
                        "nope.json");
}

TEST_CASE("discovery: tokenizer.json comes before tokenizer.model before tok512.bin",
          "[tokenize][shared]") {
    TempDir d;
    link_or_copy(kStories / "tok512.bin", d / "tok512.bin");
    auto f = tokenize::find_tokenizer_file(d.path());
    SUTRA_REQUIRE_OK(f);
    CHECK(f->kind == tokenize::TokenizerKind::llama2c);
    link_or_copy(kTokenizers / "mistral-7b-v0.1" / "tokenizer.model", d / "tokenizer.model");
    f = tokenize::find_tokenizer_file(d.path());
    SUTRA_REQUIRE_OK(f);
    CHECK(f->kind == tokenize::TokenizerKind::sentencepiece);
    link_or_copy(kTokenizers / "mistral-7b-v0.1" / "tokenizer.json", d / "tokenizer.json");
    f = tokenize::find_tokenizer_file(d.path());
    SUTRA_REQUIRE_OK(f);
    CHECK(f->kind == tokenize::TokenizerKind::hf_json);
    CHECK(f->path == d / "tokenizer.json");

    // --tokenizer: a file of any kind, by name or, failing that, by content.
    fs::copy_file(kTokenizers / "gpt2" / "tokenizer.json", d / "vocab-file");
    auto g = tokenize::resolve_tokenizer_path(d / "vocab-file");
    SUTRA_REQUIRE_OK(g);
    CHECK(g->kind == tokenize::TokenizerKind::hf_json);
    fs::copy_file(kTokenizers / "mistral-7b-v0.1" / "tokenizer.model", d / "sp");
    g = tokenize::resolve_tokenizer_path(d / "sp");
    SUTRA_REQUIRE_OK(g);
    CHECK(g->kind == tokenize::TokenizerKind::sentencepiece);
    g = tokenize::resolve_tokenizer_path(kTokenizers / "qwen3");
    SUTRA_REQUIRE_OK(g);
    CHECK(g->path.filename() == "tokenizer.json");
}

TEST_CASE("discovery: a tokenizer larger than the model's vocabulary is refused",
          "[tokenize][shared]") {
    auto f = tokenize::resolve_tokenizer_path(kTokenizers / "mistral-7b-v0.1" / "tokenizer.model");
    SUTRA_REQUIRE_OK(f);
    SUTRA_REQUIRE_ERROR(tokenize::load_tokenizer(*f, 512), Errc::bad_format, "32000 tokens",
                        "vocab_size is 512", "--tokenizer");
    auto ok = tokenize::load_tokenizer(*f, 32000);
    SUTRA_REQUIRE_OK(ok);
    CHECK(ok->tokenizer->vocab_size() == 32000);
    auto llama2c = tokenize::resolve_tokenizer_path(kStories / "tok512.bin");
    SUTRA_REQUIRE_OK(llama2c);
    SUTRA_REQUIRE_ERROR(tokenize::load_tokenizer(*llama2c, 1000), Errc::bad_format, "512");
}
