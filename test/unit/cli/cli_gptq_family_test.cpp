// `sutra quantize --method gptq | awq+gptq` on RWKV 5.2 and Mamba (pipeline/
// quantize_gptq_family): both lower RTN's mean KL on the evaluation text, --gptq-report-error
// reports every linear below RTN's output error, the .qbin records the method (AWQ's trials by
// RTN) and does not depend on --threads; on a Llama (--awq-block generic) it writes the bytes of
// Llama's own GPTQ; what the family path cannot do is refused with exit 2.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/cli_run.hpp"
#include "support/paths.hpp"

namespace sutra::test {
namespace {

std::string rwkv5() {
    return (shared_dir() / "models" / "tiny-rwkv" / "tiny-rwkv-5v2-730K.safetensors").string();
}
std::string mamba() {
    return (shared_dir() / "models" / "tiny-mamba").string();
}
std::string text(const char* name) {
    return (shared_dir() / "text" / name).string();
}

// Every block linear at 4 bits in groups of 32, embedding and head kept (as
// scripts/family_table.sh quantizes).
std::vector<std::string> quantize_args(const std::string& model, const std::string& out,
                                       const std::string& method,
                                       const char* calib_tokens = "4096") {
    std::vector<std::string> a = {
        "quantize", model,      "-o",
        out,        "--config", (source_dir() / "configs" / "linears-4bit-g32.json").string(),
        "--method", method,     "--force"};
    if (method != "rtn")
        a.insert(a.end(),
                 {"--calib-text", text("tinystories_calib.txt"), "--calib-tokens", calib_tokens});
    return a;
}

nlohmann::json run_json(const std::vector<std::string>& args) {
    const CliRun r = run_sutra(args);
    INFO(r.err);
    REQUIRE(r.code == 0);
    return nlohmann::json::parse(r.out);
}

double mean_kl(const std::string& qbin, const std::string& model) {
    const auto v = run_json({"validate", qbin, "--against", model, "--text",
                             text("tinystories_eval.txt"), "--max-tokens", "4000", "--json"});
    CHECK(v["quality"]["tokens"] > 3000);
    return v["quality"]["mean_kl"];
}

}  // namespace

TEST_CASE("gptq family: GPTQ and AWQ+GPTQ beat RTN's mean KL on RWKV 5.2 and Mamba",
          "[shared][gptq][family][slow]") {
    TempDir tmp;
    for (const std::string& model : {rwkv5(), mamba()}) {
        SECTION(model) {
            const std::string rtn = (tmp / "rtn.qbin").string(),
                              gptq = (tmp / "gptq.qbin").string(),
                              both = (tmp / "both.qbin").string();
            REQUIRE(run_sutra(quantize_args(model, rtn, "rtn")).code == 0);
            auto args = quantize_args(model, gptq, "gptq");
            args.insert(args.end(), {"--gptq-report-error", "--json"});
            const auto q = run_json(args);
            CHECK(q["method"] == "gptq");
            // Every linear of every block, each below RTN's error on its calibration inputs.
            size_t linears = 0;
            for (const auto& l : q["gptq"]["layers"])
                for (const auto& [name, lin] : l["linears"].items()) {
                    CAPTURE(l["layer"], name);
                    REQUIRE(lin.contains("output_error_gptq"));
                    const double g = lin["output_error_gptq"], r = lin["output_error_rtn"];
                    CHECK(g > 0);
                    CHECK(g <= r);
                    ++linears;
                }
            // Under this config the quantized tensors are exactly the block linears.
            CHECK(linears == q["tensors_quantized"].get<size_t>());
            CHECK(linears > 0);
            const auto b = run_json([&] {
                auto a = quantize_args(model, both, "awq+gptq");
                a.push_back("--json");
                return a;
            }());
            CHECK(b["method"] == "awq+gptq");

            const double kl_rtn = mean_kl(rtn, model), kl_gptq = mean_kl(gptq, model),
                         kl_both = mean_kl(both, model);
            CAPTURE(kl_rtn, kl_gptq, kl_both);
            CHECK(kl_rtn > 0);
            CHECK(kl_gptq < kl_rtn);
            CHECK(kl_both < kl_rtn);

            const auto info = run_json({"inspect", both, "--json"});
            CHECK(info["profile"]["method"] == "awq+gptq");
            CHECK(info["profile"]["gptq"]["awq_trial_rounding"] == "rtn");
            CHECK(info["profile"]["gptq"]["inputs"] == "sequential");
            CHECK(info["profile"]["awq"]["clip"] == false);
        }
    }
}

TEST_CASE("gptq family: on a Llama the generic path writes Llama's own GPTQ bytes",
          "[shared][gptq][family]") {
    // Same stages (q/k/v, o, gate/up, down), the same inputs (the Hessians are per linear here,
    // shared there, of the same rows), so the same codes: checks the generic path against the
    // Llama one that cli_gptq_test checks.
    TempDir tmp;
    const std::string llama = (shared_dir() / "models" / "stories260K-hf").string();
    for (const char* extra : {"", "--gptq-inputs=fp"}) {
        CAPTURE(extra);
        std::vector<Bytes> outs;
        for (const char* block : {"family", "generic"}) {
            const std::string out = (tmp / (std::string(block) + ".qbin")).string();
            auto args = quantize_args(llama, out, "gptq");
            args.insert(args.end(), {"--awq-block", block, "--act-order"});
            if (*extra) args.push_back(extra);
            const CliRun r = run_sutra(args);
            INFO(r.err);
            REQUIRE(r.code == 0);
            outs.push_back(read_bytes(out));
        }
        REQUIRE_FALSE(outs[0].empty());
        CHECK(outs[0] == outs[1]);
    }
}

TEST_CASE("gptq family: the .qbin does not depend on --threads", "[shared][gptq][family][slow]") {
    TempDir tmp;
    for (const std::string& model : {rwkv5(), mamba()}) {
        for (const char* method : {"gptq", "awq+gptq"}) {
            if (std::string(method) == "awq+gptq" && model != mamba()) continue;  // time
            CAPTURE(model, method);
            std::vector<Bytes> outs;
            for (const char* threads : {"1", "2"}) {
                const std::string out = (tmp / (std::string("t") + threads + ".qbin")).string();
                auto args = quantize_args(model, out, method, "1024");
                args.insert(args.begin(), {"--threads", threads});
                const CliRun r = run_sutra(args);
                INFO(r.err);
                REQUIRE(r.code == 0);
                outs.push_back(read_bytes(out));
            }
            REQUIRE_FALSE(outs[0].empty());
            CHECK(outs[0] == outs[1]);
        }
    }
}

TEST_CASE("gptq family: what the family path cannot do is refused with exit 2",
          "[shared][gptq][family]") {
    TempDir tmp;
    const std::string out = (tmp / "x.qbin").string();
    // AWQ's trials rounded by GPTQ: Llama's own block search only.
    auto args = quantize_args(rwkv5(), out, "awq+gptq", "1024");
    args.insert(args.end(), {"--awq-trials", "gptq"});
    CliRun r = run_sutra(args);
    CHECK(r.code == 2);
    CHECK(r.err.find("--awq-trials gptq") != std::string::npos);
    CHECK(r.err.find("--awq-trials rtn") != std::string::npos);
    CHECK(r.err.find("rwkv") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    // A memory cap below what the process holds already, or below GPTQ's estimate.
    args = quantize_args(mamba(), out, "gptq", "0");
    args.insert(args.end(), {"--max-memory", "20M"});
    r = run_sutra(args);
    CHECK(r.code == 2);
    CHECK(r.err.find("--max-memory 20 MiB is below what") != std::string::npos);
    // GGUF keeps refusing GPTQ's rounding.
    args = quantize_args(rwkv5(), (tmp / "x.gguf").string(), "gptq", "1024");
    args.insert(args.end(), {"--format", "gguf"});
    r = run_sutra(args);
    CHECK(r.code == 2);
    CHECK_FALSE(std::filesystem::exists(out));
    CHECK_FALSE(std::filesystem::exists(tmp / "x.gguf"));
}

}  // namespace sutra::test

namespace sutra::test {

// Not under the sanitizers, whose resident memory alone is above the cap.
TEST_CASE("gptq family: --max-memory is checked against GPTQ's estimate up front",
          "[shared][gptq][family][slow]") {
    TempDir tmp;
    const std::string out = (tmp / "x.qbin").string();
    // All of the calibration text: its activations alone are above the cap.
    auto args = quantize_args(mamba(), out, "awq+gptq", "0");
    args.insert(args.end(), {"--max-memory", "24M"});
    const CliRun r = run_sutra(args);
    CHECK(r.code == 2);
    CHECK(r.err.find("--max-memory 24 MiB is below what awq+gptq needs here") != std::string::npos);
    CHECK(r.err.find("the Hessians of its widest stage") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(out));
}

}  // namespace sutra::test
