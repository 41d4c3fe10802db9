// `sutra quantize --method gptq | awq+gptq` on stories260K: GPTQ's rounding lowers every
// linear's output error on the calibration inputs below RTN's, its bytes do not depend on the
// thread count, and the quality ordering the README reports holds on the evaluation text.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/cli_run.hpp"
#include "support/paths.hpp"

namespace sutra::test {
namespace {

std::string model_dir() {
    return (shared_dir() / "models" / "stories260K-hf").string();
}
std::string text(const char* name) {
    return (shared_dir() / "text" / name).string();
}

// Statistics with activation windows (64 windows of 256 tokens of the calibration text).
std::string calibrate(const TempDir& tmp) {
    const std::string stats = (tmp / "stats.safetensors").string();
    const CliRun r = run_sutra(
        {"calibrate", model_dir(), "--text", text("tinystories_calib.txt"), "-o", stats, "-q"});
    REQUIRE(r.code == 0);
    return stats;
}

std::vector<std::string> quantize_args(const std::string& out, const std::string& method,
                                       const std::string& stats, const char* bits = "4",
                                       const char* group = "32") {
    return {"quantize", model_dir(), "-o",
            out,        "--config",  (source_dir() / "configs" / "linears-4bit-g32.json").string(),
            "--bits",   bits,        "--group-size",
            group,      "--method",  method,
            "--calib",  stats,       "--force"};
}

nlohmann::json quality(const std::string& qbin) {
    const CliRun v = run_sutra({"validate", qbin, "--against", model_dir(), "--text",
                                text("tinystories_eval.txt"), "--json"});
    REQUIRE(v.code == 0);
    return nlohmann::json::parse(v.out)["quality"];
}

}  // namespace

TEST_CASE("gptq: every linear's output error on the calibration inputs is below RTN's",
          "[shared][gptq][slow]") {
    TempDir tmp;
    const std::string stats = calibrate(tmp);
    for (const bool act_order : {false, true}) {
        for (const char* bits : {"4", "3"}) {
            CAPTURE(act_order, bits);
            auto args = quantize_args((tmp / "m.qbin").string(), "gptq", stats, bits);
            args.insert(args.end(), {"--gptq-report-error", "--json"});
            if (act_order) args.push_back("--act-order");
            const CliRun r = run_sutra(args);
            REQUIRE(r.code == 0);
            const auto j = nlohmann::json::parse(r.out);
            CHECK(j["method"] == "gptq");
            const auto& layers = j["gptq"]["layers"];
            REQUIRE(layers.size() == 5);
            size_t linears = 0;
            for (const auto& l : layers) {
                REQUIRE(l["linears"].size() == 7);
                for (const auto& [name, lin] : l["linears"].items()) {
                    CAPTURE(l["layer"], name);
                    const double g = lin["output_error_gptq"], rtn = lin["output_error_rtn"];
                    CHECK(g > 0);
                    CHECK(g < rtn);
                    ++linears;
                }
            }
            CHECK(linears == 35);
        }
    }
}

TEST_CASE("gptq: the output does not depend on the thread count", "[shared][gptq][slow]") {
    TempDir tmp;
    const std::string stats = calibrate(tmp);
    const std::vector<std::pair<const char*, const char*>> runs = {
        {"gptq", ""}, {"gptq", "--act-order"}, {"awq+gptq", ""}};
    for (const auto& [method, extra] : runs) {
        CAPTURE(method, extra);
        std::vector<Bytes> outs;
        for (const char* threads : {"1", "2", "3"}) {
            const std::string out = (tmp / (std::string("t") + threads + ".qbin")).string();
            auto args = quantize_args(out, method, stats);
            args.insert(args.begin(), {"--threads", threads});
            if (*extra) args.push_back(extra);
            REQUIRE(run_sutra(args).code == 0);
            outs.push_back(read_bytes(out));
        }
        CHECK(outs[0] == outs[1]);
        CHECK(outs[0] == outs[2]);
    }
}

TEST_CASE("gptq: bad requests are refused with exit 2 and leave no output", "[shared][gptq]") {
    TempDir tmp;
    const std::string out = (tmp / "m.qbin").string();
    const std::string cfg = (source_dir() / "configs" / "linears-4bit-g32.json").string();
    CliRun r = run_sutra({"quantize", model_dir(), "-o", out, "--method", "gptq"});
    CHECK(r.code == 2);
    CHECK(r.err.find("--method gptq needs calibration") != std::string::npos);
    r = run_sutra({"quantize", model_dir(), "-o", out, "--method", "gptq", "--calib-text",
                   text("tinystories_calib.txt"), "--gptq-damp", "-1"});
    CHECK(r.code == 2);
    CHECK(r.err.find("--gptq-damp") != std::string::npos);
    r = run_sutra({"quantize", model_dir(), "-o", (tmp / "m.gguf").string(), "--format", "gguf",
                   "--method", "awq+gptq", "--calib-text", text("tinystories_calib.txt")});
    CHECK(r.code == 2);
    CHECK(r.err.find("llama.cpp's types") != std::string::npos);
    r = run_sutra({"quantize", model_dir(), "-o", out, "--method", "gptq", "--calib-text",
                   text("tinystories_calib.txt"), "--calib-tokens", "0", "--max-memory", "60M"});
    CHECK(r.code == 2);
    CHECK(r.err.find("--max-memory") != std::string::npos);
    CHECK(!std::filesystem::exists(out));
    CHECK(!std::filesystem::exists(tmp / "m.gguf"));
}

TEST_CASE("gptq: GPTQ cuts RTN's KL by a quarter and AWQ+GPTQ beats AWQ and GPTQ",
          "[shared][gptq][slow]") {
    TempDir tmp;
    const std::string stats = calibrate(tmp);
    nlohmann::json q;
    for (const char* m : {"rtn", "awq", "gptq", "awq+gptq"}) {
        const std::string out = (tmp / (std::string(m) + ".qbin")).string();
        auto args = quantize_args(out, m, stats);
        if (std::string(m) == "rtn") args.erase(args.end() - 3, args.end() - 1);  // no --calib
        REQUIRE(run_sutra(args).code == 0);
        q[m] = quality(out);
    }
    const double rtn = q["rtn"]["mean_kl"], awq = q["awq"]["mean_kl"], gptq = q["gptq"]["mean_kl"],
                 both = q["awq+gptq"]["mean_kl"];
    CAPTURE(rtn, awq, gptq, both);
    CHECK(gptq < 0.75 * rtn);
    CHECK(both < gptq);
    CHECK(both < awq);
    CHECK(q["awq+gptq"]["quantized_perplexity"] < q["gptq"]["quantized_perplexity"]);
    CHECK(q["awq+gptq"]["quantized_perplexity"] < q["awq"]["quantized_perplexity"]);
}

}  // namespace sutra::test
