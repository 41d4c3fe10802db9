// `sutra calibrate` and `sutra quantize --calib STATS` on the RWKV and Mamba fixtures:
//   - calibrate writes the same JSON report as for Llama, and a file that loads for the model;
//   - the file does not depend on --threads;
//   - quantize --calib stats.safetensors gives the .qbin of --calib-text on the same text,
//     --calib-tokens and --seq-len (the file's windows are the family AWQ's windows);
//   - a file of another family, or a llama.cpp imatrix, is refused with exit 2 and no output.
#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/calib/calibration.hpp"
#include "sutra/calib/stats_file.hpp"
#include "sutra/model/model_source.hpp"
#include "unit/calib/imatrix_test_support.hpp"

using namespace sutra;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string rwkv4() {
    return (test::shared_dir() / "models" / "tiny-rwkv" / "tiny-rwkv-4v0-660K.safetensors")
        .string();
}
std::string rwkv7() {
    return (test::shared_dir() / "models" / "tiny-rwkv" / "tiny-rwkv-7v0-834K.safetensors")
        .string();
}
std::string mamba() {
    return (test::shared_dir() / "models" / "tiny-mamba").string();
}
std::string calib_text() {
    return (test::shared_dir() / "text" / "tinystories_calib.txt").string();
}

test::CliRun run_ok(const std::vector<std::string>& args) {
    test::CliRun r = test::run_sutra(args);
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    return r;
}

std::vector<std::string> calibrate_args(const std::string& model, const std::string& out,
                                        const char* tokens, const char* seq_len) {
    return {"calibrate", model,   "--text", calib_text(), "--tokens", tokens,
            "--seq-len", seq_len, "-o",     out,          "--force"};
}

// One thread: these tiny models gain nothing from two on a shared machine (the bytes do not
// depend on it).
std::vector<std::string> quantize_args(const std::string& model, const std::string& out) {
    return {"--threads", "1",      "quantize", model,          "-o", out,      "--method",
            "awq",       "--bits", "4",        "--group-size", "32", "--force"};
}

}  // namespace

TEST_CASE("calibrate CLI on RWKV and Mamba: the JSON report and a file for the model",
          "[cli][calib][family][shared]") {
    TempDir d;
    struct Case {
        std::string model;
        bool bos;
    };
    for (const Case& c : {Case{rwkv7(), false}, Case{mamba(), true}}) {
        CAPTURE(c.model);
        const std::string out = (d / "stats.safetensors").string();
        auto args = calibrate_args(c.model, out, "1024", "64");
        args.push_back("--json");
        const test::CliRun r = run_ok(args);
        const auto j = nlohmann::json::parse(r.out);
        CHECK(j["schema"] == "sutra.calibrate/1");
        CHECK(j["output"] == out);
        CHECK(j["seq_len"] == 64);
        const int64_t chunk = c.bos ? 63 : 64;  // text tokens per window
        CHECK(j["windows"] == 1024 / chunk);
        CHECK(j["used_tokens"] == (1024 / chunk) * chunk);
        CHECK(j["positions"] == (1024 / chunk) * 64);
        CHECK(j["bytes"] == fs::file_size(out));
        CHECK(j["documents"] == 1);
        CHECK_FALSE(j["tokenizer"].get<std::string>().empty());

        auto src = model::open_model(c.model, std::nullopt);
        SUTRA_REQUIRE_OK(src);
        auto m = model::open_runtime(*src);
        SUTRA_REQUIRE_OK(m);
        CHECK(j["linears"] == calib::linear_inputs(**m).size());
        auto st = calib::load_calibration(out, **m);
        SUTRA_REQUIRE_OK(st);
        CHECK(st->windows == j["windows"].get<int64_t>());
        CHECK(st->bos_id == (c.bos ? st->tokens[0] : -1));

        // The text line, as for Llama.
        auto plain = calibrate_args(c.model, out, "1024", "64");
        const test::CliRun t = run_ok(plain);
        CHECK_THAT(t.out, Catch::Contains("windows of 64 tokens"));
    }
}

TEST_CASE("calibrate CLI on RWKV: the statistics file does not depend on --threads",
          "[cli][calib][family][shared]") {
    TempDir d;
    const std::string a = (d / "t1.safetensors").string(), b = (d / "t2.safetensors").string();
    for (const auto& [out, threads] : {std::pair{a, "1"}, std::pair{b, "2"}}) {
        auto args = calibrate_args(rwkv7(), out, "1024", "128");
        args.insert(args.begin(), {"--threads", threads});
        run_ok(args);
    }
    const test::Bytes x = test::read_bytes(a), y = test::read_bytes(b);
    REQUIRE(!x.empty());
    CHECK(x == y);
}

// quantize --calib (from calibrate --tokens 256 --seq-len 32) against --calib-text with the
// same budget and window length: the same bytes.
namespace {

void check_stats_equal_text(const std::string& model) {
    TempDir d;
    const std::string stats = (d / "stats.safetensors").string();
    auto ca = calibrate_args(model, stats, "256", "32");
    ca.push_back("--json");
    const auto jc = nlohmann::json::parse(run_ok(ca).out);
    const std::string a = (d / "stats.qbin").string(), b = (d / "text.qbin").string();
    auto qa = quantize_args(model, a);
    qa.insert(qa.end(), {"--calib", stats, "--json"});
    const auto ja = nlohmann::json::parse(run_ok(qa).out);
    CHECK(ja["method"] == "awq");
    CHECK(ja["calibration"]["windows"] == jc["windows"]);
    CHECK(ja["calibration"]["seq_len"] == 32);
    auto qb = quantize_args(model, b);
    qb.insert(qb.end(), {"--calib-text", calib_text(), "--calib-tokens", "256", "--seq-len", "32"});
    run_ok(qb);
    const test::Bytes x = test::read_bytes(a), y = test::read_bytes(b);
    REQUIRE(!x.empty());
    CHECK(x == y);
}

}  // namespace

TEST_CASE("quantize --calib STATS on RWKV: the .qbin of --calib-text on the same text",
          "[cli][calib][awq][family][shared]") {
    check_stats_equal_text(rwkv4());
}

TEST_CASE("quantize --calib STATS on Mamba: the .qbin of --calib-text on the same text",
          "[cli][calib][awq][family][shared]") {
    check_stats_equal_text(mamba());
}

TEST_CASE("quantize --calib on RWKV and Mamba: another family's file or an imatrix is refused",
          "[cli][calib][family][shared]") {
    TempDir d;
    const std::string stats = (d / "rwkv.safetensors").string();
    run_ok(calibrate_args(rwkv4(), stats, "256", "32"));
    const std::string out = (d / "x.qbin").string();

    auto args = quantize_args(mamba(), out);
    args.insert(args.end(), {"--calib", stats});
    test::CliRun r = test::run_sutra(args);
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("made for a rwkv 4 model"));
    CHECK_THAT(r.err, Catch::Contains("this model is a mamba 1 model"));
    CHECK_THAT(r.err, Catch::Contains("sutra calibrate"));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(out));

    // A llama.cpp imatrix (legacy layout) under names llama.cpp gives RWKV.
    using namespace sutra::test::imatrix;
    const std::string imat = (d / "rwkv.imatrix.dat").string();
    test::write_bytes(imat,
                      legacy_file({{"blk.0.attn_k.weight", 1, std::vector<float>(64, 1.0f)}}));
    args = quantize_args(rwkv4(), out);
    args.insert(args.end(), {"--calib", imat});
    r = test::run_sutra(args);
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("imatrix"));
    CHECK_THAT(r.err, Catch::Contains("rwkv"));
    CHECK_THAT(r.err, Catch::Contains("sutra calibrate"));
    CHECK_FALSE(fs::exists(out));
}
