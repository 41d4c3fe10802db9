// `sutra bench --tokenizer SOURCE --text FILE`: the JSON report of one tokenizer's encode
// speed, on the real tokenizers of shared/tokenizers, whose token counts are checked against
// the reference implementation's golden ids.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "support/checks.hpp"
#include "support/cli_run.hpp"
#include "support/paths.hpp"

namespace {

namespace fs = std::filesystem;
using sutra::test::check_one_line_error;
using sutra::test::CliRun;
using sutra::test::run_sutra;
using sutra::test::shared_dir;

fs::path tokenizers_dir() {
    return shared_dir() / "tokenizers";
}

// The number of ids in a golden file of the reference (whitespace-separated).
size_t golden_count(const fs::path& file) {
    std::ifstream in(file);
    REQUIRE(in.good());
    size_t n = 0;
    long long id = 0;
    while (in >> id)
        ++n;
    return n;
}

nlohmann::json bench_json(const std::vector<std::string>& args) {
    const CliRun r = run_sutra(args);
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    nlohmann::json j;
    REQUIRE_NOTHROW(j = nlohmann::json::parse(r.out));
    return j;
}

}  // namespace

TEST_CASE("cli: bench --tokenizer --text --json reports the encode speed and token count",
          "[cli][shared][bench]") {
    const fs::path text = tokenizers_dir() / "text" / "tinystories_eval_20k.txt";
    const auto text_bytes = static_cast<uint64_t>(fs::file_size(text));

    SECTION("gpt2 tokenizer.json") {
        const fs::path tok = tokenizers_dir() / "gpt2" / "tokenizer.json";
        const auto j = bench_json({"bench", "--tokenizer", tok.string(), "--text", text.string(),
                                   "--runs", "1", "--warmup", "0", "--json"});
        CHECK(j["schema"] == "sutra.bench/1");
        CHECK_FALSE(j.contains("methods"));
        CHECK_FALSE(j.contains("kernels"));
        REQUIRE(j["tokenizer"].is_object());
        const auto& t = j["tokenizer"];
        CHECK_THAT(t["tokenizer"].get<std::string>(), Catch::Contains("BPE"));
        CHECK(t["file"] == tok.string());
        CHECK(t["text"] == text.string());
        CHECK(t["text_bytes"] == text_bytes);
        CHECK(t["threads"] == 1);
        CHECK(t["add_special"] == true);
        CHECK(t["runs"] == 1);
        CHECK(t["warmup"] == 0);
        CHECK(t["load_seconds"].get<double>() > 0);
        const double median = t["seconds"]["median"].get<double>();
        CHECK(median > 0);
        CHECK(t["seconds"]["min"].get<double>() == median);  // one run
        CHECK(t["seconds"]["max"].get<double>() == median);
        const size_t expected =
            golden_count(tokenizers_dir() / "gpt2" / "golden" / "tinystories_eval_20k.special.ids");
        CHECK(t["tokens"] == expected);
        CHECK(t["mb_per_s"].get<double>() ==
              Approx(static_cast<double>(text_bytes) / 1e6 / median));
        CHECK(t["tokens_per_s"].get<double>() == Approx(static_cast<double>(expected) / median));
        CHECK(t["peak_rss_bytes"].get<uint64_t>() > text_bytes);
    }
    SECTION("a model folder (flan-t5-large: its tokenizer.json, </s> added), three runs") {
        const fs::path dir = tokenizers_dir() / "flan-t5-large";
        const auto j = bench_json({"bench", "--tokenizer", dir.string(), "--text", text.string(),
                                   "--runs", "3", "--warmup", "1", "--json"});
        const auto& t = j["tokenizer"];
        CHECK(t["file"] == (dir / "tokenizer.json").string());
        CHECK_THAT(t["tokenizer"].get<std::string>(), Catch::Contains("Unigram"));
        CHECK(t["runs"] == 3);
        CHECK(t["warmup"] == 1);
        CHECK(t["tokens"] == golden_count(dir / "golden" / "tinystories_eval_20k.special.ids"));
        const auto& s = t["seconds"];
        CHECK(s["min"].get<double>() <= s["median"].get<double>());
        CHECK(s["median"].get<double>() <= s["max"].get<double>());
    }
    SECTION("--markdown names the tokenizer and the token count") {
        const fs::path tok = tokenizers_dir() / "gpt2" / "tokenizer.json";
        const CliRun r = run_sutra({"bench", "--tokenizer", tok.string(), "--text", text.string(),
                                    "--runs", "1", "--warmup", "0", "--markdown"});
        INFO("stderr: " << r.err);
        REQUIRE(r.code == 0);
        CHECK_THAT(r.out, Catch::Contains("**sutra bench --tokenizer**"));
        CHECK_THAT(r.out, Catch::Contains("| seconds"));
        const size_t expected =
            golden_count(tokenizers_dir() / "gpt2" / "golden" / "tinystories_eval_20k.special.ids");
        CHECK_THAT(r.out, Catch::Contains(" " + std::to_string(expected) + " "));
    }
}

TEST_CASE("cli: bench --tokenizer / --text misuse is a one-line error", "[cli][shared][bench]") {
    const fs::path tok = tokenizers_dir() / "gpt2" / "tokenizer.json";
    const fs::path text = tokenizers_dir() / "text" / "stress.txt";
    check_one_line_error(run_sutra({"bench", "--text", text.string()}), {"--text", "--tokenizer"});
    check_one_line_error(run_sutra({"bench", "--tokenizer", tok.string()}),
                         {"--tokenizer", "--text"});
    check_one_line_error(
        run_sutra({"bench", "--tokenizer", tok.string(), "--text", text.string(), "--runs", "0"}),
        {"--runs"});
    const fs::path missing = tokenizers_dir() / "no-such-text.txt";
    check_one_line_error(run_sutra({"bench", "--tokenizer", tok.string(), "--text",
                                    missing.string(), "--runs", "1", "--warmup", "0"}),
                         {"no-such-text.txt"});
    check_one_line_error(run_sutra({"bench", "--tokenizer", (tokenizers_dir() / "text").string(),
                                    "--text", text.string(), "--runs", "1"}),
                         {"tokenizer"});
}
