// tokenizer.ggml.* from the shared tokenizers: llama2.c, SentencePiece, byte-level BPE and
// SentencePiece-style BPE tokenizer.json files.
#include <catch2/catch.hpp>
#include <fstream>

#include "support/paths.hpp"
#include "sutra/format/gguf_vocab.hpp"

using namespace sutra;
using namespace sutra::format;
namespace fs = std::filesystem;

namespace {

GgufVocab vocab_of(const fs::path& file, tokenize::TokenizerKind kind, VocabContext ctx = {}) {
    auto v = read_gguf_vocab({file, kind}, ctx);
    INFO((v.ok() ? "" : v.error().message));
    REQUIRE(v.ok());
    REQUIRE(v->tokens.size() == v->types.size());
    return *v;
}

int32_t type_of(const GgufVocab& v, const std::string& token) {
    for (size_t i = 0; i < v.tokens.size(); ++i)
        if (v.tokens[i] == token) return v.types[i];
    return -1;
}

}  // namespace

TEST_CASE("gguf vocab: llama2.c tok512.bin as llama.cpp's llama2.c converter", "[gguf][shared]") {
    VocabContext ctx;
    ctx.vocab_size = 512;
    const auto v = vocab_of(test::shared_dir() / "models/stories260K/tok512.bin",
                            tokenize::TokenizerKind::llama2c, ctx);
    CHECK(v.model == "llama");
    REQUIRE(v.tokens.size() == 512);
    CHECK(v.tokens[0] == "<unk>");
    CHECK(v.types[0] == 2);
    CHECK(v.tokens[1] == "<s>");
    CHECK(v.types[1] == 3);
    CHECK(v.tokens[2] == "</s>");
    CHECK(v.types[2] == 3);
    CHECK(v.tokens[3] == "<0x00>");
    CHECK(v.types[3] == 6);
    CHECK(v.types[258] == 6);
    CHECK(v.types[259] == 1);
    CHECK(v.scores.size() == 512);
    // Spaces are written as U+2581; no token keeps a raw space.
    for (const auto& t : v.tokens)
        CHECK(t.find(' ') == std::string::npos);
    CHECK(type_of(v, "\xe2\x96\x81the") == 1);
    CHECK(v.bos == 1);
    CHECK(v.eos == 2);
    CHECK(v.unk == 0);
    CHECK(v.add_bos == true);

    // A config with more ids than the file: [PAD<i>] unused; fewer: refused.
    ctx.vocab_size = 520;
    const auto padded = vocab_of(test::shared_dir() / "models/stories260K/tok512.bin",
                                 tokenize::TokenizerKind::llama2c, ctx);
    CHECK(padded.tokens[515] == "[PAD515]");
    CHECK(padded.types[515] == 5);
    ctx.vocab_size = 500;
    CHECK_FALSE(read_gguf_vocab({test::shared_dir() / "models/stories260K/tok512.bin",
                                 tokenize::TokenizerKind::llama2c},
                                ctx)
                    .ok());
}

TEST_CASE("gguf vocab: byte-level BPE tokenizer.json files", "[gguf][shared]") {
    const fs::path tk = test::shared_dir() / "tokenizers";
    SECTION("Qwen3: qwen2 pre-tokenizer, merges, control tokens") {
        VocabContext ctx;
        ctx.vocab_size = 151936;
        const auto v = vocab_of(tk / "qwen3/tokenizer.json", tokenize::TokenizerKind::hf_json, ctx);
        CHECK(v.model == "gpt2");
        CHECK(v.pre == "qwen2");
        CHECK(v.tokens.size() == 151936);
        CHECK(v.scores.empty());
        CHECK(v.merges.size() > 100000);
        CHECK(v.merges[0] == "\xc4\xa0 \xc4\xa0");  // "Ġ Ġ", the pair form joined
        CHECK(type_of(v, "<|im_start|>") == 3);
        CHECK(type_of(v, "<think>") == 4);  // added, not special
        CHECK(type_of(v, "hello") == 1);
        CHECK(v.tokens.back() == "[PAD151935]");
        CHECK(v.types.back() == 5);
        CHECK(v.eos >= 151643);
    }
    SECTION("GPT-2: the ByteLevel pre-tokenizer is gpt-2") {
        const auto v = vocab_of(tk / "gpt2/tokenizer.json", tokenize::TokenizerKind::hf_json);
        CHECK(v.model == "gpt2");
        CHECK(v.pre == "gpt-2");
        CHECK(v.tokens.size() == 50257);
        CHECK(type_of(v, "<|endoftext|>") == 3);
        CHECK(v.eos == 50256);
    }
    SECTION("Unigram is refused") {
        auto v = read_gguf_vocab(
            {tk / "flan-t5-large/tokenizer.json", tokenize::TokenizerKind::hf_json}, {});
        REQUIRE_FALSE(v.ok());
        CHECK(v.error().code == Errc::unsupported);
        CHECK_THAT(v.error().message, Catch::Contains("Unigram"));
    }
}

TEST_CASE("gguf vocab: SentencePiece-style vocabularies", "[gguf][shared]") {
    const fs::path tk = test::shared_dir() / "tokenizers";
    // Mistral: tokenizer.json with tokenizer.model beside it -> the SentencePiece model.
    VocabContext ctx;
    ctx.vocab_size = 32000;
    const auto spm =
        vocab_of(tk / "mistral-7b-v0.1/tokenizer.json", tokenize::TokenizerKind::hf_json, ctx);
    CHECK(spm.model == "llama");
    CHECK(spm.pre == "default");
    CHECK_THAT(spm.source, Catch::Contains("tokenizer.model"));
    REQUIRE(spm.tokens.size() == 32000);
    CHECK(spm.tokens[1] == "<s>");
    CHECK(spm.types[1] == 3);
    CHECK(spm.tokens[3] == "<0x00>");
    CHECK(spm.types[3] == 6);
    CHECK(spm.bos == 1);
    CHECK(spm.eos == 2);
    CHECK(spm.add_bos == true);
    const auto direct = vocab_of(tk / "mistral-7b-v0.1/tokenizer.model",
                                 tokenize::TokenizerKind::sentencepiece, ctx);
    CHECK(direct.tokens == spm.tokens);
    CHECK(direct.scores == spm.scores);

    // The legacy folder has no tokenizer.model: scores from the merge ranks.
    const auto hf = vocab_of(tk / "mistral-7b-v0.1-legacy/tokenizer.json",
                             tokenize::TokenizerKind::hf_json, ctx);
    CHECK(hf.model == "llama");
    REQUIRE(hf.tokens.size() == 32000);
    CHECK(hf.tokens == spm.tokens);
    CHECK(hf.types[0] == 2);  // <unk>
    CHECK(hf.types[1] == 3);
    CHECK(hf.types[3] == 6);
    CHECK(hf.bos == 1);
    CHECK(hf.eos == 2);
    // Later merges score lower, like the SentencePiece model's own scores.
    size_t agree = 0, compared = 0;
    for (size_t i = 300; i + 1 < 32000; i += 97) {
        if (hf.scores[i] == 0 || hf.scores[i + 1] == 0) continue;
        ++compared;
        if ((hf.scores[i] > hf.scores[i + 1]) == (spm.scores[i] > spm.scores[i + 1])) ++agree;
    }
    CHECK(compared > 100);
    CHECK(agree > compared * 9 / 10);
}
