// `sutra bench MODEL --generate [--against OUT.qbin]`: the original and the quantized model
// generating in one run, on the tiny shared models (Llama stories260K, Mamba, RWKV 5.2): the
// JSON a script reads (both models, positive rates and peak RSS, the requested counts, one
// prompt for both), where the prompt comes from, the temporary .qbin removed, a .qbin of
// another model refused, and the flags --generate refuses (exit 2, one line).
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/cli_run.hpp"
#include "support/paths.hpp"

namespace {

namespace fs = std::filesystem;
using sutra::test::check_one_line_error;
using sutra::test::CliRun;
using sutra::test::listing;
using sutra::test::run_sutra;
using sutra::test::shared_dir;
using sutra::test::TempDir;

fs::path models() {
    return shared_dir() / "models";
}
std::string stories() {
    return (models() / "stories260K-hf").string();
}
std::string mamba() {
    return (models() / "tiny-mamba").string();
}
std::string rwkv5() {
    return (models() / "tiny-rwkv" / "tiny-rwkv-5v2-730K.safetensors").string();
}

// A short workload: 4 decode steps, one measured run after no warm-up.
std::vector<std::string> quick(std::vector<std::string> args) {
    const std::vector<std::string> common = {"--generate", "--runs",       "1", "--warmup",
                                             "0",          "--gen-tokens", "4"};
    args.insert(args.begin(), "bench");
    args.insert(args.end(), common.begin(), common.end());
    return args;
}

nlohmann::json bench_json(const std::vector<std::string>& args) {
    std::vector<std::string> all = args;
    all.push_back("--json");
    const CliRun r = run_sutra(all);
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    nlohmann::json j;
    REQUIRE_NOTHROW(j = nlohmann::json::parse(r.out));
    REQUIRE(j["schema"] == "sutra.bench.generate/1");
    return j;
}

// What every report must hold, whatever the model: both models with positive rates and peak
// RSS, the counts asked for, and the same prompt ids given to both.
void check_report(const nlohmann::json& j, int64_t prompt_tokens, int64_t gen_tokens) {
    CHECK(j["gen_tokens"] == gen_tokens);
    CHECK(j["prompt"]["tokens"] == prompt_tokens);
    const auto ids = j["prompt"]["ids"].get<std::vector<int32_t>>();
    CHECK(ids.size() == static_cast<size_t>(prompt_tokens));
    CHECK(j["threads"].get<int>() >= 1);
    CHECK_FALSE(j["isa"].get<std::string>().empty());
    REQUIRE(j["models"].size() == 2);
    CHECK(j["models"][0]["role"] == "original");
    CHECK(j["models"][1]["role"] == "quantized");
    for (const auto& m : j["models"]) {
        INFO(m["role"]);
        CHECK(m["prompt_tokens_per_s"]["median"].get<double>() > 0);
        CHECK(m["gen_tokens_per_s"]["median"].get<double>() > 0);
        CHECK(m["prompt_tokens_per_s"]["min"].get<double>() <=
              m["prompt_tokens_per_s"]["max"].get<double>());
        CHECK(m["peak_rss_bytes"].get<uint64_t>() > 0);
        CHECK(m["peak_rss_bytes"].get<uint64_t>() >= m["start_rss_bytes"].get<uint64_t>());
        CHECK(m["file_bytes"].get<uint64_t>() > 0);
        CHECK(m["prompt_ids"].get<std::vector<int32_t>>() == ids);
        CHECK(m["generated_ids"].size() == static_cast<size_t>(gen_tokens));
        CHECK(m["ids_stable"] == true);
    }
    // The .qbin is the smaller file; the ratios are of the numbers reported.
    const auto ob = j["models"][0]["file_bytes"].get<double>();
    const auto qb = j["models"][1]["file_bytes"].get<double>();
    CHECK(qb < ob);
    CHECK(j["size_ratio"].get<double>() == Approx(ob / qb));
    CHECK(j["speedup"]["generation"].get<double>() ==
          Approx(j["models"][1]["gen_tokens_per_s"]["median"].get<double>() /
                 j["models"][0]["gen_tokens_per_s"]["median"].get<double>()));
    CHECK(j["speedup"]["prompt"].get<double>() ==
          Approx(j["models"][1]["prompt_tokens_per_s"]["median"].get<double>() /
                 j["models"][0]["prompt_tokens_per_s"]["median"].get<double>()));
    const auto same = j["same_prefix_tokens"].get<int64_t>();
    CHECK(same >= 0);
    CHECK(same <= gen_tokens);
}

}  // namespace

TEST_CASE("cli: bench --generate quantizes stories260K here and times both models",
          "[cli][bench-generate][shared]") {
    TempDir out;
    auto args = quick({stories(), "--bits", "4", "--group-size", "32", "--prompt-tokens", "8",
                       "--out-dir", out.path().string()});
    const auto j = bench_json(args);
    check_report(j, 8, 4);
    CHECK(j["model"] == stories());
    CHECK_THAT(j["family"].get<std::string>(), Catch::StartsWith("llama"));
    CHECK(j["quantized_by"] == "bench");
    CHECK(j["method"] == "rtn");
    CHECK(j["quantize_seconds"].get<double>() > 0);
    CHECK(j["sampling"] == "greedy");
    CHECK(j["stop_at_eos"] == false);
    // The built-in text through tok512.bin: BOS first.
    CHECK(j["prompt"]["source"] == "builtin-text");
    CHECK_THAT(j["tokenizer"].get<std::string>(), Catch::Contains("tok512.bin"));
    CHECK(j["prompt"]["ids"][0] == 1);
    // The temporary .qbin is gone.
    CHECK(listing(out.path()).empty());

    SECTION("tables and Markdown name both models and the ratio row") {
        args.pop_back();
        args.pop_back();
        const CliRun r = run_sutra(args);
        INFO("stderr: " << r.err);
        REQUIRE(r.code == 0);
        CHECK_THAT(r.out, Catch::Contains("original"));
        CHECK_THAT(r.out, Catch::Contains("quantized / original"));
        CHECK_THAT(r.out, Catch::Contains("generation tok/s"));
        args.push_back("--markdown");
        const CliRun md = run_sutra(args);
        REQUIRE(md.code == 0);
        CHECK_THAT(md.out, Catch::Contains("| quantized "));
        CHECK_THAT(md.out, Catch::Contains("|---"));
    }
}

TEST_CASE("cli: bench --generate --prompt is the text's ids, repeated to --prompt-tokens",
          "[cli][bench-generate][shared]") {
    // generate --max-tokens 0 gives the prompt's ids through the same tokenizer.
    const CliRun g = run_sutra(
        {"generate", stories(), "--prompt", "Once upon a time", "--max-tokens", "0", "--json"});
    REQUIRE(g.code == 0);
    const auto text_ids = nlohmann::json::parse(g.out)["prompt_ids"].get<std::vector<int32_t>>();
    REQUIRE(text_ids.size() >= 2);
    REQUIRE(text_ids.size() < 40);
    const auto j = bench_json(
        quick({stories(), "--prompt", "Once upon a time", "--prompt-tokens", "40", "--bits", "8"}));
    check_report(j, 40, 4);
    CHECK(j["prompt"]["source"] == "text");
    const auto ids = j["prompt"]["ids"].get<std::vector<int32_t>>();
    CHECK(std::equal(text_ids.begin(), text_ids.end(), ids.begin()));
    // Repeated without a second BOS.
    CHECK(std::count(ids.begin(), ids.end(), 1) == 1);
}

TEST_CASE("cli: bench --generate --tokens-file runs exactly the file's ids",
          "[cli][bench-generate][shared]") {
    TempDir tmp;
    const fs::path ids = tmp / "ids.txt";
    std::ofstream(ids) << "1 300 301 302 303 304\n";
    const auto j = bench_json(quick({mamba(), "--tokens-file", ids.string()}));
    check_report(j, 6, 4);
    CHECK(j["prompt"]["source"] == "tokens-file");
    CHECK(j["prompt"]["ids"] == nlohmann::json({1, 300, 301, 302, 303, 304}));
    CHECK_THAT(j["family"].get<std::string>(), Catch::StartsWith("mamba"));

    SECTION("--prompt-tokens does not go with it") {
        check_one_line_error(
            run_sutra(quick({mamba(), "--tokens-file", ids.string(), "--prompt-tokens", "4"})),
            {"--prompt-tokens", "--tokens-file"});
    }
}

TEST_CASE("cli: bench --generate without a tokenizer uses fixed pseudo-random ids",
          "[cli][bench-generate][shared]") {
    // stories260K without its tok512.bin.
    TempDir dir;
    for (const char* f : {"config.json", "model.safetensors"})
        fs::copy_file(fs::path(stories()) / f, dir / f);
    auto args = quick({dir.path().string(), "--prompt-tokens", "16"});
    const auto a = bench_json(args);
    check_report(a, 16, 4);
    CHECK(a["prompt"]["source"] == "random");
    CHECK(a["tokenizer"].is_null());
    const auto ids = a["prompt"]["ids"].get<std::vector<int32_t>>();
    CHECK(ids[0] == 1);  // BOS
    for (size_t i = 1; i < ids.size(); ++i) {
        CHECK(ids[i] >= 0);
        CHECK(ids[i] < 512);
        CHECK(ids[i] != 1);
        CHECK(ids[i] != 2);  // EOS
    }
    CHECK(std::set<int32_t>(ids.begin(), ids.end()).size() > 8);
    // The same ids on every run: the seed is fixed.
    CHECK(bench_json(args)["prompt"]["ids"] == a["prompt"]["ids"]);
}

TEST_CASE("cli: bench --generate on RWKV uses the byte tokenizer's ids of the built-in text",
          "[cli][bench-generate][shared]") {
    const auto j = bench_json(quick({rwkv5(), "--prompt-tokens", "5", "--bits", "4"}));
    check_report(j, 5, 4);
    CHECK_THAT(j["family"].get<std::string>(), Catch::StartsWith("rwkv"));
    CHECK(j["prompt"]["source"] == "builtin-text");
    CHECK(j["prompt"]["ids"] == nlohmann::json({'O', 'n', 'c', 'e', ' '}));
}

TEST_CASE("cli: bench --generate --against takes a .qbin of MODEL and refuses another model's",
          "[cli][bench-generate][shared]") {
    TempDir tmp;
    const std::string qbin = (tmp / "mamba.qbin").string();
    const CliRun q = run_sutra({"quantize", mamba(), "-o", qbin, "--bits", "4", "-q"});
    INFO("quantize stderr: " << q.err);
    REQUIRE(q.code == 0);

    const auto j = bench_json(quick({mamba(), "--against", qbin, "--prompt-tokens", "8"}));
    check_report(j, 8, 4);
    CHECK(j["quantized_by"] == "against");
    CHECK(j["quantize_seconds"].is_null());
    CHECK(j["models"][1]["file"] == qbin);
    CHECK(j["models"][1]["file_bytes"] == fs::file_size(qbin));
    CHECK(fs::exists(qbin));  // never removed

    SECTION("a .qbin of another model: exit 2, naming both") {
        check_one_line_error(run_sutra(quick({stories(), "--against", qbin})),
                             {"--against", "was not made from", "stories260K-hf", "MODEL"});
    }
    SECTION("a plain checkpoint as --against") {
        check_one_line_error(
            run_sutra(quick({mamba(), "--against", mamba() + "/model.safetensors"})),
            {"--against", ".qbin"});
    }
    SECTION("quantization flags with --against") {
        check_one_line_error(run_sutra(quick({mamba(), "--against", qbin, "--bits", "4"})),
                             {"--bits", "--against"});
        check_one_line_error(run_sutra(quick({mamba(), "--against", qbin, "--methods", "rtn"})),
                             {"--methods", "--against"});
    }
    SECTION("the .qbin as MODEL") {
        check_one_line_error(run_sutra(quick({qbin})), {".qbin", "--against"});
    }
}

TEST_CASE("cli: bench --generate refuses flags that do not go with it",
          "[cli][bench-generate][shared]") {
    TempDir tmp;
    const std::string svg = (tmp / "p.svg").string();
    const std::string ids = (tmp / "ids.txt").string();
    std::ofstream(ids) << "1 2 3\n";
    struct Case {
        std::vector<std::string> flags;
        std::vector<std::string> words;
    };
    const std::vector<Case> cases = {
        {{"--eval-text", ids}, {"--eval-text", "--generate"}},
        {{"--kernels"}, {"--kernels", "--generate"}},
        {{"--plot", svg}, {"--plot", "--generate"}},
        {{"--text", ids}, {"--text", "--generate"}},
        {{"--eval-tokens", "5"}, {"--eval-tokens", "--generate"}},
        {{"--bits", "3,4"}, {"--bits"}},
        {{"--methods", "rtn,awq"}, {"--methods", "one"}},
        {{"--methods", "awq"}, {"awq", "calibration"}},
        {{"--gen-tokens", "0"}, {"--gen-tokens"}},
        {{"--prompt-tokens", "0"}, {"--prompt-tokens"}},
        {{"--runs", "0"}, {"--runs"}},
        {{"--prompt", "hi", "--tokens-file", ids}, {"--prompt", "--tokens-file"}},
    };
    for (const auto& c : cases) {
        std::vector<std::string> args = {stories()};
        args.insert(args.end(), c.flags.begin(), c.flags.end());
        INFO(c.flags.front());
        const std::vector<std::string> all = quick(args);
        const CliRun r = run_sutra(all);
        check_one_line_error(r, {c.words.front()});
        for (const auto& w : c.words)
            CHECK_THAT(r.err, Catch::Contains(w));
    }
    CHECK_FALSE(fs::exists(svg));

    SECTION("--generate's own flags without --generate") {
        for (const char* f : {"--gen-tokens", "--prompt-tokens"})
            check_one_line_error(run_sutra({"bench", stories(), f, "4"}), {f, "--generate"});
        check_one_line_error(run_sutra({"bench", stories(), "--against", "x.qbin"}),
                             {"--against", "--generate"});
    }
    SECTION("no MODEL") {
        check_one_line_error(run_sutra({"bench", "--generate"}), {"--generate", "MODEL"});
    }
}
