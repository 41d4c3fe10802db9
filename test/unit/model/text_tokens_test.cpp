#include "sutra/model/text_tokens.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "support/paths.hpp"
#include "support/st_builder.hpp"

using namespace sutra;
using sutra::test::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path kTokenizers = fs::path(SUTRA_SHARED_DIR) / "tokenizers";

model::LlamaConfig config(int64_t vocab, int64_t bos, std::vector<int64_t> eos) {
    model::LlamaConfig c;
    c.model_type = "llama";
    c.vocab_size = vocab;
    c.bos_token_id = bos;
    c.eos_token_ids = std::move(eos);
    return c;
}

}  // namespace

TEST_CASE("text tokens: the window starts with the tokenizer's BOS, else config.json's",
          "[model][tokenize][shared][slow]") {
    // Mistral's tokenizer.json puts <s> (1) before the text itself.
    auto m = model::open_model_tokenizer(kTokenizers / "mistral-7b-v0.1", std::nullopt,
                                         config(32000, -1, {}));
    SUTRA_REQUIRE_OK(m);
    CHECK(m->window_start == 1);
    // Qwen3's adds nothing: config.json's bos_token_id (<|endoftext|>) starts the window.
    auto q = model::open_model_tokenizer(kTokenizers / "qwen3", std::nullopt,
                                         config(151936, 151643, {151645}));
    SUTRA_REQUIRE_OK(q);
    CHECK(q->window_start == 151643);
    CHECK(q->eos == std::vector<int32_t>{151645});
    // Nothing at all names one: an error, not a guess.
    SUTRA_REQUIRE_ERROR(
        model::open_model_tokenizer(kTokenizers / "qwen3", std::nullopt, config(151936, -1, {})),
        Errc::bad_format, "no BOS or EOS");
    // ... but an EOS does (GPT-2 style: <|endoftext|> separates documents).
    auto g = model::open_model_tokenizer(kTokenizers / "qwen3", std::nullopt,
                                         config(151936, -1, {151643}));
    SUTRA_REQUIRE_OK(g);
    CHECK(g->window_start == 151643);
}

TEST_CASE("text tokens: generation_config.json's eos_token_id list wins over config.json's",
          "[model][tokenize][shared][slow]") {
    TempDir d;
    fs::copy_file(kTokenizers / "qwen3" / "tokenizer.json", d / "tokenizer.json");
    std::ofstream(d / "generation_config.json")
        << R"({"bos_token_id": 151643, "eos_token_id": [151645, 151643], "do_sample": true})";
    auto q = model::open_model_tokenizer(d.path(), std::nullopt, config(151936, -1, {151643}));
    SUTRA_REQUIRE_OK(q);
    CHECK(q->eos == std::vector<int32_t>{151645, 151643});
    CHECK(q->window_start == 151643);
    std::ofstream(d / "generation_config.json") << R"({"eos_token_id": 999999})";
    SUTRA_REQUIRE_ERROR(model::open_model_tokenizer(d.path(), std::nullopt, config(151936, 1, {})),
                        Errc::bad_format, "generation_config.json", "999999");
}

TEST_CASE("text tokens: an evaluation text is encoded whole, without special tokens",
          "[model][tokenize][shared]") {
    TempDir d;
    const fs::path text = kTokenizers / "text" / "stress.txt";
    model::TextInput in;
    in.texts = {text};
    in.tokenizer = kTokenizers / "gpt2" / "tokenizer.json";
    auto t = model::load_eval_tokens(d.path(), config(50257, -1, {50256}), in);
    SUTRA_REQUIRE_OK(t);
    std::ifstream golden(kTokenizers / "gpt2" / "golden" / "stress.nospecial.ids");
    std::vector<int32_t> want;
    for (int32_t id; golden >> id;)
        want.push_back(id);
    CHECK(t->tokens == want);
    CHECK(t->window_start == 50256);
    CHECK_THAT(t->tokenizer, Catch::Contains("tokenizer.json"));
    in.tokens_file = text;
    SUTRA_REQUIRE_ERROR(model::load_eval_tokens(d.path(), config(50257, -1, {50256}), in),
                        Errc::invalid_argument, "exactly one");
}
