// `sutra validate --text`: the quality of a packed model end to end (perplexity of both models,
// KL divergence, top-1 agreement) and its thresholds as a CI gate.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"
#include "sutra/pipeline/quantize.hpp"
#include "sutra/pipeline/validate.hpp"

using namespace sutra;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

// The built-in tiny example (vocab 512, no tokenizer), a .qbin of it made with `config_json`,
// and a file of token ids for it.
struct TinySetup {
    TempDir d;
    fs::path model, qbin, ids;
    explicit TinySetup(const std::string& config_json) {
        model = d / "model";
        pipeline::ExampleOptions eo;
        auto shape = pipeline::example_shape("tiny");
        REQUIRE(shape.ok());
        eo.shape = *shape;
        REQUIRE(pipeline::write_example_checkpoint(model, eo).ok());
        test::write_text(d / "config.json", config_json);
        pipeline::QuantizeOptions q;
        q.input = model;
        q.output = qbin = d / "m.qbin";
        q.config_file = d / "config.json";
        auto r = pipeline::run_quantize(q, nullptr);
        INFO((r.ok() ? "" : r.error().message));
        REQUIRE(r.ok());
        std::string text = "# token ids\n";
        uint32_t s = 99;
        for (int i = 0; i < 300; ++i) {
            s = s * 1664525u + 1013904223u;
            text += std::to_string(3 + (s >> 8) % 509) + (i % 20 == 19 ? "\n" : " ");
        }
        ids = d / "ids.txt";
        test::write_text(ids, text);
    }
    pipeline::ValidateOptions options() const {
        pipeline::ValidateOptions o;
        o.qbin = qbin;
        o.against = model;
        o.tokens = ids;
        o.seq_len = 64;
        return o;
    }
};

const char* kKeepAll = R"({"name": "keep-all", "rules": [{"pattern": "*", "keep": true}]})";
const char* k4Bit = R"({"name": "q4", "default": {"bits": 4, "group_size": 32}})";

}  // namespace

TEST_CASE("validate --text: a .qbin that stores every tensor unchanged has no quality loss",
          "[pipeline][validate]") {
    TinySetup t(kKeepAll);
    auto r = pipeline::run_validate(t.options(), nullptr);
    SUTRA_REQUIRE_OK(r);
    REQUIRE(r->quality.has_value());
    const auto& q = *r->quality;
    CHECK(q.tokens == 300);
    CHECK(q.windows == 5);  // 63 text tokens per window
    CHECK(q.seq_len == 64);
    CHECK(q.original_perplexity > 1.0);
    CHECK(q.quantized_perplexity == q.original_perplexity);
    CHECK(q.perplexity_increase == 0.0);
    CHECK(q.mean_kl == 0.0);
    CHECK(q.top1_agreement == 1.0);
    CHECK(q.failures.empty());
    CHECK(r->passed);
}

TEST_CASE("validate --text: 4-bit weights cost quality, and thresholds turn it into a verdict",
          "[pipeline][validate]") {
    TinySetup t(k4Bit);
    auto o = t.options();
    o.max_tokens = 200;
    auto r = pipeline::run_validate(o, nullptr);
    SUTRA_REQUIRE_OK(r);
    REQUIRE(r->quality.has_value());
    const auto q = *r->quality;
    CHECK(q.tokens == 200);
    CHECK(q.mean_kl > 0.0);
    CHECK(q.top1_agreement <= 1.0);
    CHECK(q.perplexity_increase == Approx(q.quantized_perplexity - q.original_perplexity));
    CHECK(q.perplexity_increase_relative == Approx(q.perplexity_increase / q.original_perplexity));
    CHECK(r->passed);

    // Thresholds just below the measured values fail, naming what failed; just above pass.
    o.thresholds.max_kl = q.mean_kl * 0.99;
    r = pipeline::run_validate(o, nullptr);
    SUTRA_REQUIRE_OK(r);
    CHECK_FALSE(r->passed);
    REQUIRE(r->quality->failures.size() == 1);
    CHECK_THAT(r->quality->failures[0], Catch::Contains("mean KL"));
    o.thresholds.max_kl = q.mean_kl * 1.01;
    // (On random weights and tokens the 4-bit model may even do better: the increase may be
    // negative.)
    const double rel = q.perplexity_increase_relative;
    o.thresholds.max_ppl_increase = rel + std::abs(rel) * 0.01 + 1e-12;
    r = pipeline::run_validate(o, nullptr);
    SUTRA_REQUIRE_OK(r);
    CHECK(r->passed);
    o.thresholds.max_ppl_increase = rel - std::abs(rel) * 0.01 - 1e-12;
    r = pipeline::run_validate(o, nullptr);
    SUTRA_REQUIRE_OK(r);
    CHECK_FALSE(r->passed);
    REQUIRE(r->quality->failures.size() == 1);
    CHECK_THAT(r->quality->failures[0], Catch::Contains("perplexity increase"));
}

TEST_CASE("validate --text: options that do not go together are usage errors",
          "[pipeline][validate]") {
    TinySetup t(kKeepAll);
    auto o = t.options();
    o.against.reset();
    SUTRA_REQUIRE_ERROR(pipeline::run_validate(o, nullptr), Errc::invalid_argument, "--against");
    o = t.options();
    o.text = t.ids;
    SUTRA_REQUIRE_ERROR(pipeline::run_validate(o, nullptr), Errc::invalid_argument, "at most one");
    o = t.options();
    o.tokens.reset();
    o.thresholds.max_kl = 0.1;
    SUTRA_REQUIRE_ERROR(pipeline::run_validate(o, nullptr), Errc::invalid_argument, "--max-kl",
                        "--text");
    o = t.options();
    o.seq_len = 1;
    SUTRA_REQUIRE_ERROR(pipeline::run_validate(o, nullptr), Errc::invalid_argument, "--seq-len");

    // The original's folder must hold config.json (and a tokenizer for --text).
    fs::create_directories(t.d / "bare");
    fs::copy_file(t.model / "model.safetensors", t.d / "bare" / "model.safetensors");
    o = t.options();
    o.against = t.d / "bare";
    SUTRA_REQUIRE_ERROR(pipeline::run_validate(o, nullptr), Errc::not_found, "config.json",
                        "--against");
    o = t.options();
    o.tokens.reset();
    o.text = t.ids;
    SUTRA_REQUIRE_ERROR(pipeline::run_validate(o, nullptr), Errc::not_found);
}

TEST_CASE("validate --text: a damaged .qbin fails without running the models",
          "[pipeline][validate]") {
    TinySetup t(k4Bit);
    auto bytes = test::read_bytes(t.qbin);
    bytes[bytes.size() - 3] ^= 0x55;  // inside the last stored tensor's data
    test::write_bytes(t.qbin, bytes);
    auto r = pipeline::run_validate(t.options(), nullptr);
    SUTRA_REQUIRE_OK(r);
    CHECK_FALSE(r->damaged.empty());
    CHECK_FALSE(r->quality.has_value());
    CHECK_FALSE(r->passed);
}

TEST_CASE("validate --text on stories260K: 4-bit group-32 RTN gives the reference figures",
          "[pipeline][validate][shared][slow]") {
    const auto model = test::shared_dir() / "models" / "stories260K-hf";
    const auto text = test::shared_dir() / "text" / "tinystories_eval.txt";
    REQUIRE(fs::exists(text));
    TempDir d;
    pipeline::QuantizeOptions q;
    q.input = model;
    q.output = d / "m.qbin";
    q.config_file = test::source_dir() / "configs" / "linears-4bit-g32.json";
    q.method = "rtn";  // the reference protocol: plain round-to-nearest
    SUTRA_REQUIRE_OK(pipeline::run_quantize(q, nullptr));

    pipeline::ValidateOptions o;
    o.qbin = q.output;
    o.against = model;
    o.text = text;
    auto r = pipeline::run_validate(o, nullptr);
    SUTRA_REQUIRE_OK(r);
    REQUIRE(r->quality.has_value());
    const auto& qc = *r->quality;
    // ../shared/text/README.md: F32 4.596; RTN 4-bit g32 5.023, KL 0.092, top-1 84.8%.
    CHECK(qc.tokens > 95000);
    CHECK(qc.windows == (qc.tokens + 254) / 255);
    CHECK(qc.original_perplexity == Approx(4.596).epsilon(0.002));
    CHECK(qc.quantized_perplexity == Approx(5.023).epsilon(0.01));
    CHECK(qc.mean_kl == Approx(0.092).epsilon(0.15));
    CHECK(qc.top1_agreement == Approx(0.848).margin(0.015));
    CHECK(r->passed);
}

TEST_CASE("validate --text CLI on stories260K: exit 1 names the threshold that fails, 0 passes",
          "[pipeline][validate][shared][cli]") {
    const auto model = (test::shared_dir() / "models" / "stories260K-hf").string();
    const auto text = (test::shared_dir() / "text" / "tinystories_eval.txt").string();
    TempDir d;
    const auto qbin = (d / "m.qbin").string();
    const auto cfg = (test::source_dir() / "configs" / "linears-4bit-g32.json").string();
    auto r =
        test::run_sutra({"quantize", model, "-o", qbin, "--config", cfg, "--method", "rtn", "-q"});
    REQUIRE(r.code == 0);

    const std::vector<std::string> base = {"validate", qbin, "--against",    model,
                                           "--text",   text, "--max-tokens", "2048"};
    auto with = [&](std::vector<std::string> extra) {
        auto a = base;
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    };
    // About 10% more perplexity and a KL of about 0.09 on these 2048 tokens.
    r = test::run_sutra(with({"--max-ppl-increase", "0.05"}));
    INFO(r.out << r.err);
    CHECK(r.code == 1);
    CHECK_THAT(r.out, Catch::Contains("FAIL perplexity increase"));
    CHECK_THAT(r.out, Catch::Contains("> 5.00%"));
    CHECK_THAT(r.out, !Catch::Contains("FAIL mean KL"));

    r = test::run_sutra(with({"--max-kl", "0.01"}));
    CHECK(r.code == 1);
    CHECK_THAT(r.out, Catch::Contains("FAIL mean KL"));
    CHECK_THAT(r.out, !Catch::Contains("FAIL perplexity"));

    r = test::run_sutra(with({"--max-ppl-increase", "0.25", "--max-kl", "0.2", "--json"}));
    CHECK(r.code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["schema"] == "sutra.validate/1");
    CHECK(j["passed"] == true);
    const auto& q = j["quality"];
    CHECK(q["tokens"] == 2048);
    CHECK(q["seq_len"] == 256);
    CHECK(q["windows"] == 9);
    CHECK(q["quantized_perplexity"].get<double>() > q["original_perplexity"].get<double>());
    CHECK(q["perplexity_increase_relative"].get<double>() > 0.05);
    CHECK(q["mean_kl"].get<double>() == Approx(0.09).epsilon(0.3));
    CHECK(q["top1_agreement"].get<double>() > 0.8);
    CHECK(q["thresholds"]["max_kl"] == 0.2);
    CHECK(q["failures"].empty());

    // A threshold without a text is a usage error.
    r = test::run_sutra({"validate", qbin, "--against", model, "--max-kl", "0.1"});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("--text"));
}
