// `sutra calibrate`: statistics file from a model and a text, through the library entry point
// and the CLI.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/calib/stats_file.hpp"
#include "sutra/model/llama/llama_config.hpp"
#include "sutra/pipeline/calibrate.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"

using namespace sutra;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

// The built-in tiny example (vocab 512, no tokenizer) and a file of 500 token ids for it.
struct Tiny {
    TempDir d;
    fs::path model, ids;
    Tiny() {
        model = d / "model";
        pipeline::ExampleOptions eo;
        auto shape = pipeline::example_shape("tiny");
        REQUIRE(shape.ok());
        eo.shape = *shape;
        REQUIRE(pipeline::write_example_checkpoint(model, eo).ok());
        std::string text;
        for (int i = 0; i < 500; ++i)
            text += std::to_string(3 + (i * 37) % 509) + " ";
        ids = d / "ids.txt";
        test::write_text(ids, text);
    }
};

}  // namespace

TEST_CASE("calibrate: writes a statistics file that loads for the same model",
          "[pipeline][calib]") {
    Tiny t;
    pipeline::CalibrateOptions o;
    o.model = t.model;
    o.tokens = t.ids;
    o.output = t.d / "stats.safetensors";
    o.seq_len = 32;
    o.max_tokens = 0;
    auto r = pipeline::run_calibrate(o, nullptr);
    SUTRA_REQUIRE_OK(r);
    CHECK(r->text_tokens == 500);
    CHECK(r->windows == 16);  // 500 / 31
    CHECK(r->used_tokens == 16 * 31);
    CHECK(r->positions == 16 * 32);
    CHECK(r->linears == 2 * 7 + 1);
    CHECK(r->bytes == fs::file_size(o.output));

    auto cfg = model::read_llama_config(t.model);
    REQUIRE(cfg.ok());
    auto back = calib::load_calibration(o.output, *cfg);
    SUTRA_REQUIRE_OK(back);
    CHECK(back->windows == 16);
    CHECK(back->linears.at("model.layers.1.mlp.down_proj").mean_abs.size() == 384);

    // Existing output without force, an output that is the model, a .qbin as the model.
    SUTRA_REQUIRE_ERROR(pipeline::run_calibrate(o, nullptr), Errc::exists, "--force");
    auto same = o;
    same.force = true;
    same.output = t.model / "model.safetensors";
    SUTRA_REQUIRE_ERROR(pipeline::run_calibrate(same, nullptr), Errc::invalid_argument, "input");
    auto few = o;
    few.force = true;
    few.seq_len = 600;
    SUTRA_REQUIRE_ERROR(pipeline::run_calibrate(few, nullptr), Errc::invalid_argument, "one window",
                        "--seq-len");
}

TEST_CASE("calibrate CLI: exit codes and output", "[pipeline][calib][cli]") {
    Tiny t;
    const auto out = (t.d / "s.safetensors").string();
    const std::vector<std::string> base = {
        "calibrate", t.model.string(), "--tokens-file", t.ids.string(), "--seq-len", "64", "-o",
        out};
    auto r = test::run_sutra(base);
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("7 windows of 64 tokens"));
    CHECK(fs::exists(out));

    r = test::run_sutra(base);  // exists
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("--force"));

    auto a = base;
    a.insert(a.end(), {"--force", "--json", "--tokens", "126"});
    r = test::run_sutra(a);
    CHECK(r.code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["schema"] == "sutra.calibrate/1");
    CHECK(j["windows"] == 2);
    CHECK(j["used_tokens"] == 126);
    CHECK(j["text_tokens"] == 500);

    r = test::run_sutra({"calibrate", t.model.string(), "-o", out, "--force"});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("--text"));
    r = test::run_sutra(
        {"calibrate", t.model.string(), "--text", t.ids.string(), "-o", out, "--force"});
    CHECK(r.code == 2);  // the example has no tokenizer
    CHECK_THAT(r.err, Catch::Contains("tok"));
}

TEST_CASE("calibrate CLI on stories260K: the calibration text gives the same bytes every run",
          "[pipeline][calib][shared][cli]") {
    const auto model = test::shared_dir() / "models" / "stories260K-hf";
    const auto text = test::shared_dir() / "text" / "tinystories_calib.txt";
    REQUIRE(fs::exists(text));
    TempDir d;
    const auto a = d / "a.safetensors", b = d / "b.safetensors";
    for (const auto& out : {a, b}) {
        auto r = test::run_sutra(
            {"calibrate", model.string(), "--text", text.string(), "-o", out.string()});
        INFO(r.out << r.err);
        REQUIRE(r.code == 0);
        CHECK(fs::exists(out));
    }
    CHECK(test::read_bytes(a) == test::read_bytes(b));

    auto cfg = model::read_llama_config(model);
    REQUIRE(cfg.ok());
    auto st = calib::load_calibration(a, *cfg);
    SUTRA_REQUIRE_OK(st);
    CHECK(st->seq_len == 256);
    CHECK(st->windows == 64);  // 16384 text tokens by default: 64 windows of 255
    CHECK(st->linears.size() == 5 * 7 + 1);
    const auto& down = st->linears.at("model.layers.4.mlp.down_proj");
    CHECK(down.tokens == 64 * 256);
    CHECK(down.mean_abs.size() == 172);
    for (size_t c = 0; c < down.mean_abs.size(); ++c)
        CHECK(down.mean_abs[c] > 0.0f);

    // Statistics made for another model are refused when loaded for this one.
    auto other = *cfg;
    other.intermediate_size = 176;
    SUTRA_REQUIRE_ERROR(calib::load_calibration(a, other), Errc::invalid_argument,
                        "intermediate_size 172", "sutra calibrate");
}
