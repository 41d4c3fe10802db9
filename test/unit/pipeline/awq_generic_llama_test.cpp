// The generic AWQ block search (pipeline/awq_family_block, over model/family.hpp's block view)
// against the Llama family's own tuned search (pipeline/awq_block) on stories260K: the same
// scaling groups, folds, losses and clipping, so the same model quality — the check that the
// generic path is AWQ and not an approximation of it.
#include <catch2/catch.hpp>
#include <cmath>
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

}  // namespace

TEST_CASE("awq: the generic block search matches Llama's own on stories260K",
          "[shared][awq][family][slow]") {
    TempDir tmp;
    nlohmann::json q[2], v[2];
    const char* blocks[2] = {"family", "generic"};
    for (int i = 0; i < 2; ++i) {
        const std::string out = (tmp / (std::string(blocks[i]) + ".qbin")).string();
        const CliRun r =
            run_sutra({"quantize", model_dir(), "-o", out, "--config",
                       (source_dir() / "configs" / "linears-4bit-g32.json").string(), "--method",
                       "awq", "--calib-text", text("tinystories_calib.txt"), "--calib-tokens",
                       "4096", "--awq-block", blocks[i], "--force", "--json"});
        REQUIRE(r.code == 0);
        q[i] = nlohmann::json::parse(r.out);
        const CliRun val =
            run_sutra({"validate", out, "--against", model_dir(), "--text",
                       text("tinystories_eval.txt"), "--max-tokens", "20000", "--json"});
        REQUIRE(val.code == 0);
        v[i] = nlohmann::json::parse(val.out)["quality"];
    }
    // The same alpha for every group of every layer.
    REQUIRE(q[0]["awq"].size() == 5);
    REQUIRE(q[1]["awq"].size() == 5);
    for (size_t l = 0; l < 5; ++l)
        for (const char* g : {"qkv", "gate_up", "down"}) {
            CAPTURE(l, g);
            CHECK(q[0]["awq"][l][g]["alpha"] == q[1]["awq"][l][g]["alpha"]);
        }
    const double kl_tuned = v[0]["mean_kl"], kl_generic = v[1]["mean_kl"];
    CHECK(std::fabs(kl_generic - kl_tuned) <= 1e-3 * kl_tuned);
    CHECK(std::fabs(static_cast<double>(v[1]["quantized_perplexity"]) -
                    static_cast<double>(v[0]["quantized_perplexity"])) < 1e-3);
}

}  // namespace sutra::test
