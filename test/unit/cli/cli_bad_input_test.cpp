// End-to-end tests of the `sutra` executable: exit codes, the one-line error contract on
// stderr, and that a failed run leaves no output and no temporary file behind (and never
// touches an existing output or the input).
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/plan/config.hpp"

namespace {

using sutra::test::check_one_line_error;
using sutra::test::lines;
using sutra::test::listing;

namespace fs = std::filesystem;
using sutra::test::Bytes;
using sutra::test::read_bytes;
using sutra::test::st_raw;
using sutra::test::StBuilder;
using sutra::test::TempDir;
using sutra::test::write_bytes;
using sutra::test::write_text;

using Run = sutra::test::CliRun;

Run sutra_run(const std::vector<std::string>& args) {
    return sutra::test::run_sutra(args);
}

// A small model that the default preset quantizes (a 2-D weight) and keeps (a 1-D norm).
StBuilder small_model() {
    StBuilder b;
    b.meta("format", "pt");
    b.f32_filled("model.layers.0.mlp.up_proj.weight", {8, 64});
    b.f32_filled("model.layers.0.self_attn.q_proj.weight", {4, 64}, 0.5f);
    b.f32("model.norm.weight", {4}, {1, 1, 1, 1});
    return b;
}

// A folder with an input folder `in/` and an empty output folder `out/`.
struct Workspace {
    TempDir tmp;
    fs::path in = tmp / "in";
    fs::path out = tmp / "out";
    Workspace() {
        fs::create_directory(in);
        fs::create_directory(out);
    }
};

}  // namespace

TEST_CASE("cli: quantize refuses bad inputs with one error line and no output", "[cli][quantize]") {
    Workspace ws;
    const fs::path model = ws.in / "model.safetensors";
    const fs::path out = ws.out / "model.qbin";
    const StBuilder good = small_model();

    SECTION("truncated file") {
        Bytes b = good.bytes();
        b.resize(b.size() - 10);
        write_bytes(model, b);
        check_one_line_error(sutra_run({"quantize", model.string(), "-o", out.string()}),
                             {model.string(), "model.norm.weight"});
    }
    SECTION("file cut inside the header") {
        Bytes b = good.bytes();
        b.resize(40);
        write_bytes(model, b);
        check_one_line_error(sutra_run({"quantize", model.string(), "-o", out.string()}),
                             {model.string(), "header length"});
    }
    SECTION("header length past the end of the file") {
        write_bytes(model, st_raw(good.header(), good.data(), 1u << 20));
        check_one_line_error(sutra_run({"quantize", model.string(), "-o", out.string()}),
                             {model.string(), "header length 1048576", "past the end"});
    }
    SECTION("overlapping offsets") {
        const std::string h =
            "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
            "\"b.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}";
        write_bytes(model, st_raw(h, Bytes(24, 0)));
        check_one_line_error(sutra_run({"quantize", model.string(), "-o", out.string()}),
                             {model.string(), "b.weight", "overlaps"});
    }
    SECTION("unknown dtype") {
        const std::string h =
            "{\"a.weight\":{\"dtype\":\"F12\",\"shape\":[2],\"data_offsets\":[0,4]}}";
        write_bytes(model, st_raw(h, Bytes(4, 0)));
        check_one_line_error(sutra_run({"quantize", model.string(), "-o", out.string()}),
                             {model.string(), "a.weight", "F12"});
    }
    SECTION("missing shard") {
        StBuilder s1, s2;
        s1.f32_filled("model.layers.0.mlp.up_proj.weight", {4, 64});
        s2.f32("model.norm.weight", {4}, {1, 1, 1, 1});
        s1.write(ws.in / "model-00001-of-00002.safetensors");
        s2.write(ws.in / "model-00002-of-00002.safetensors");
        write_text(ws.in / "model.safetensors.index.json",
                   "{\"weight_map\":{\"model.layers.0.mlp.up_proj.weight\":"
                   "\"model-00001-of-00002.safetensors\",\"model.norm.weight\":"
                   "\"model-00002-of-00002.safetensors\"}}");
        REQUIRE(sutra_run({"quantize", ws.in.string(), "-o", out.string()}).code == 0);
        fs::remove(out);
        fs::remove(ws.in / "model-00002-of-00002.safetensors");
        check_one_line_error(sutra_run({"quantize", ws.in.string(), "-o", out.string()}),
                             {"model-00002-of-00002.safetensors", "missing"});
    }
    SECTION("a folder without checkpoint") {
        check_one_line_error(sutra_run({"quantize", ws.in.string(), "-o", out.string()}),
                             {ws.in.string()});
    }
    SECTION("a FIFO as input (must not hang)") {
        REQUIRE(::mkfifo(model.c_str(), 0644) == 0);
        check_one_line_error(sutra_run({"quantize", model.string(), "-o", out.string()}),
                             {model.string(), "not a regular file"});
    }
    SECTION("/dev/zero as input") {
        check_one_line_error(sutra_run({"quantize", "/dev/zero", "-o", out.string()}),
                             {"/dev/zero", "not a regular file"});
    }
    SECTION("a missing input") {
        check_one_line_error(sutra_run({"quantize", model.string(), "-o", out.string()}),
                             {model.string()});
    }
    SECTION("a NaN in a tensor to quantize (fails after the output was created)") {
        StBuilder b;
        b.f32_filled("model.layers.0.mlp.up_proj.weight", {8, 64});
        b.tensor("model.layers.0.mlp.down_proj.weight", "F32", {2, 64}, [] {
            Bytes d(2 * 64 * 4, 0);
            const float nan = std::numeric_limits<float>::quiet_NaN();
            std::memcpy(d.data() + (64 + 5) * 4, &nan, 4);
            return d;
        }());
        b.write(model);
        check_one_line_error(sutra_run({"quantize", model.string(), "-o", out.string()}),
                             {"model.layers.0.mlp.down_proj.weight", "NaN", "[1, 5]"});
    }
    SECTION("--bits 5") {
        good.write(model);
        check_one_line_error(
            sutra_run({"quantize", model.string(), "-o", out.string(), "--bits", "5"}), {"--bits"});
    }
    SECTION("unknown preset") {
        good.write(model);
        check_one_line_error(
            sutra_run({"quantize", model.string(), "-o", out.string(), "--preset", "fastest"}),
            {"fastest"});
    }
    CHECK(listing(ws.out).empty());
}

TEST_CASE("cli: quantize protects the input and existing outputs", "[cli][quantize]") {
    Workspace ws;
    const fs::path model = ws.in / "model.safetensors";
    const StBuilder good = small_model();
    good.write(model);
    const Bytes input = good.bytes();

    SECTION("output path equal to the input, even with --force") {
        check_one_line_error(
            sutra_run({"quantize", model.string(), "-o", model.string(), "--force"}),
            {model.string(), "input"});
        check_one_line_error(sutra_run({"quantize", ws.in.string(), "-o",
                                        (ws.in / "." / "model.safetensors").string()}),
                             {"input"});
        CHECK(listing(ws.in) == std::vector<std::string>{"model.safetensors"});
    }
    SECTION("output under a folder that does not exist") {
        const fs::path out = ws.out / "missing" / "model.qbin";
        check_one_line_error(sutra_run({"quantize", model.string(), "-o", out.string()}),
                             {(ws.out / "missing").string(), "does not exist"});
        CHECK(listing(ws.out).empty());
    }
    SECTION("output under a regular file used as a folder") {
        write_text(ws.out / "file", "x");
        const fs::path out = ws.out / "file" / "model.qbin";
        check_one_line_error(sutra_run({"quantize", model.string(), "-o", out.string()}),
                             {(ws.out / "file").string()});
        CHECK(listing(ws.out) == std::vector<std::string>{"file"});
    }
    SECTION("output in a folder the OS refuses (/proc)") {
        check_one_line_error(
            sutra_run({"quantize", model.string(), "-o", "/proc/sutra-cli-test.qbin"}), {"/proc"});
        CHECK_FALSE(fs::exists("/proc/sutra-cli-test.qbin"));
    }
    SECTION("an existing output without --force stays byte-identical") {
        const fs::path out = ws.out / "model.qbin";
        write_text(out, "precious");
        check_one_line_error(sutra_run({"quantize", model.string(), "-o", out.string()}),
                             {out.string(), "--force"});
        const Bytes got = read_bytes(out);
        CHECK(std::string(got.begin(), got.end()) == "precious");
        CHECK(listing(ws.out) == std::vector<std::string>{"model.qbin"});
    }
    SECTION("an existing output stays byte-identical when quantize --force fails") {
        const fs::path out = ws.out / "model.qbin";
        write_text(out, "precious");
        // Fails while reading the header: before the output is created.
        Bytes broken = good.bytes();
        broken.resize(broken.size() - 1);
        write_bytes(ws.in / "broken.safetensors", broken);
        check_one_line_error(sutra_run({"quantize", (ws.in / "broken.safetensors").string(), "-o",
                                        out.string(), "--force"}),
                             {"broken.safetensors"});
        // Fails while quantizing: after the temporary output was created.
        StBuilder nan;
        nan.f32("model.layers.0.mlp.up_proj.weight", {1, 4},
                {1.0f, std::numeric_limits<float>::infinity(), 2.0f, 3.0f});
        nan.write(ws.in / "inf.safetensors");
        check_one_line_error(sutra_run({"quantize", (ws.in / "inf.safetensors").string(), "-o",
                                        out.string(), "--force"}),
                             {"model.layers.0.mlp.up_proj.weight"});
        const Bytes got = read_bytes(out);
        CHECK(std::string(got.begin(), got.end()) == "precious");
        CHECK(listing(ws.out) == std::vector<std::string>{"model.qbin"});
    }
    // The input is never modified.
    CHECK(read_bytes(model) == input);
}

TEST_CASE("cli: output onto the shard index of the input is refused", "[cli][quantize]") {
    // The index is part of the input: overwriting it with --force would destroy the
    // checkpoint ("the input is never touched").
    Workspace ws;
    StBuilder s1, s2;
    s1.f32_filled("model.layers.0.mlp.up_proj.weight", {4, 64});
    s2.f32("model.norm.weight", {4}, {1, 1, 1, 1});
    s1.write(ws.in / "model-00001-of-00002.safetensors");
    s2.write(ws.in / "model-00002-of-00002.safetensors");
    const fs::path index = ws.in / "model.safetensors.index.json";
    write_text(index,
               "{\"weight_map\":{\"model.layers.0.mlp.up_proj.weight\":"
               "\"model-00001-of-00002.safetensors\",\"model.norm.weight\":"
               "\"model-00002-of-00002.safetensors\"}}");
    const Bytes before = read_bytes(index);
    SECTION("model folder as input") {
        check_one_line_error(
            sutra_run({"quantize", ws.in.string(), "-o", index.string(), "--force"}), {"input"});
    }
    SECTION("index as input") {
        check_one_line_error(
            sutra_run({"quantize", index.string(), "-o", index.string(), "--force"}), {"input"});
    }
    SECTION("a shard as output") {
        const fs::path shard = ws.in / "model-00002-of-00002.safetensors";
        const Bytes shard_before = read_bytes(shard);
        check_one_line_error(
            sutra_run({"quantize", ws.in.string(), "-o", shard.string(), "--force"}), {"input"});
        CHECK(read_bytes(shard) == shard_before);
    }
    CHECK(read_bytes(index) == before);
    CHECK(listing(ws.in).size() == 3);
}

TEST_CASE("cli: an error naming a hostile tensor or file name is still one line",
          "[cli][quantize]") {
    // Tensor names come from the file: a JSON-escaped newline or escape sequence in a name must
    // not split the error line or reach the terminal raw.
    Workspace ws;
    const fs::path out = ws.out / "m.qbin";
    SECTION("newline in a tensor name") {
        const fs::path model = ws.in / "nl.safetensors";
        write_bytes(model, st_raw("{\"evil\\nname\":{\"dtype\":\"F12\",\"shape\":[1],"
                                  "\"data_offsets\":[0,4]}}",
                                  Bytes(4, 0)));
        const Run r = sutra_run({"quantize", model.string(), "-o", out.string()});
        check_one_line_error(r, {"nl.safetensors", "evil", "F12"});
    }
    SECTION("escape sequence and carriage return in a tensor name") {
        const fs::path model = ws.in / "esc.safetensors";
        write_bytes(model, st_raw("{\"evil\\u001b[2J\\rname\":{\"dtype\":\"F12\",\"shape\":[1],"
                                  "\"data_offsets\":[0,4]}}",
                                  Bytes(4, 0)));
        const Run r = sutra_run({"quantize", model.string(), "-o", out.string()});
        check_one_line_error(r, {"esc.safetensors", "evil", "F12"});
        CHECK(r.err.find('\x1b') == std::string::npos);
        CHECK(r.err.find('\r') == std::string::npos);
    }
    SECTION("newline in the input file name") {
        const fs::path model = ws.in / "new\nline.safetensors";
        const Run r = sutra_run({"quantize", model.string(), "-o", out.string()});
        check_one_line_error(r, {"line.safetensors"});
    }
    CHECK(listing(ws.out).empty());
}

TEST_CASE("cli: dequantize refuses to overwrite its input", "[cli]") {
    Workspace ws;
    const fs::path model = ws.in / "model.safetensors";
    small_model().write(model);
    const fs::path q = ws.out / "m.qbin";
    REQUIRE(sutra_run({"quantize", model.string(), "-o", q.string()}).code == 0);
    const Bytes before = read_bytes(q);
    check_one_line_error(sutra_run({"dequantize", q.string(), "-o", q.string(), "--force"}),
                         {"input"});
    CHECK(read_bytes(q) == before);
    CHECK(listing(ws.out) == std::vector<std::string>{"m.qbin"});
    const fs::path back = ws.out / "back.safetensors";
    const Run d = sutra_run({"dequantize", q.string(), "-o", back.string()});
    INFO(d.err);
    CHECK(d.code == 0);
    const Run i = sutra_run({"inspect", back.string(), "--json"});
    REQUIRE(i.code == 0);
    nlohmann::json j;
    REQUIRE_NOTHROW(j = nlohmann::json::parse(i.out));
    CHECK(j["tensors"].size() == 3);
}

TEST_CASE("cli: usage errors and help", "[cli]") {
    SECTION("no arguments") {
        const Run r = sutra_run({});
        CHECK(r.code == 2);
        CHECK_FALSE(r.err.empty());
    }
    SECTION("unknown flag") {
        CHECK(sutra_run({"--frobnicate"}).code == 2);
        CHECK(sutra_run({"quantize", "x.safetensors", "-o", "y.qbin", "--frobnicate"}).code == 2);
        CHECK(sutra_run({"inspect", "--frobnicate", "x"}).code == 2);
    }
    SECTION("unknown subcommand") {
        CHECK(sutra_run({"squash", "x"}).code == 2);
    }
    SECTION("missing required arguments") {
        CHECK(sutra_run({"quantize"}).code == 2);
        TempDir tmp;
        StBuilder b = small_model();
        b.write(tmp / "m.safetensors");
        CHECK(sutra_run({"quantize", (tmp / "m.safetensors").string()}).code == 2);
        CHECK(listing(tmp.path()) == std::vector<std::string>{"m.safetensors"});
    }
    SECTION("--help") {
        const Run r = sutra_run({"--help"});
        CHECK(r.code == 0);
        CHECK_THAT(r.out, Catch::Contains("quantize"));
        CHECK_THAT(r.out, Catch::Contains("inspect"));
        CHECK_THAT(r.out, Catch::Contains("validate"));
        const Run q = sutra_run({"quantize", "--help"});
        CHECK(q.code == 0);
        CHECK_THAT(q.out, Catch::Contains("--preset"));
        CHECK_THAT(q.out, Catch::Contains("--force"));
    }
    SECTION("--version") {
        const Run r = sutra_run({"--version"});
        CHECK(r.code == 0);
        CHECK_THAT(r.out, Catch::Contains("sutra"));
    }
    SECTION("validate thresholds without --against") {
        check_one_line_error(sutra_run({"validate", "x.qbin", "--max-rel-error", "0.1"}),
                             {"--against"});
    }
}

TEST_CASE("cli: a mistyped command, preset, method or dtype gets a \"did you mean\"", "[cli]") {
    TempDir tmp;
    small_model().write(tmp / "m.safetensors");
    const std::string m = (tmp / "m.safetensors").string();
    const std::string out = (tmp / "o.qbin").string();
    SECTION("command") {
        check_one_line_error(sutra_run({"quantise", m, "-o", out}),
                             {"unknown command \"quantise\"; did you mean \"quantize\"?",
                              "(commands: quantize, inspect, validate, dequantize"});
        check_one_line_error(sutra_run({"-v", "--threads", "2", "inpsect", m}),
                             {"did you mean \"inspect\"?"});
        check_one_line_error(sutra_run({"squash", m}), {"unknown command \"squash\" (commands: "});
    }
    SECTION("preset") {
        check_one_line_error(sutra_run({"quantize", m, "-o", out, "--preset", "agressive"}),
                             {"--preset", "unknown preset \"agressive\"",
                              "did you mean \"aggressive\"?", "(choices: "});
    }
    SECTION("method") {
        check_one_line_error(sutra_run({"quantize", m, "-o", out, "--method", "awk"}),
                             {"--method", "unknown method \"awk\"; did you mean \"awq\"?",
                              "(choices: auto, rtn, awq, gptq, awq+gptq)"});
        check_one_line_error(sutra_run({"bench", m, "--methods", "rtn,atq"}),
                             {"--methods", "unknown method \"atq\"; did you mean \"awq\"?"});
    }
    SECTION("dequantize --dtype") {
        check_one_line_error(sutra_run({"dequantize", "x.qbin", "-o",
                                        (tmp / "x.safetensors").string(), "--dtype", "bf61"}),
                             {"--dtype", "unknown dtype \"bf61\"; did you mean \"bf16\"?"});
    }
    CHECK(listing(tmp.path()) == std::vector<std::string>{"m.safetensors"});
}

TEST_CASE("cli: inspect and quantize on valid input", "[cli]") {
    Workspace ws;
    const fs::path model = ws.in / "model.safetensors";
    small_model().write(model);

    SECTION("inspect lists the tensor names") {
        const Run r = sutra_run({"inspect", model.string()});
        INFO(r.err);
        CHECK(r.code == 0);
        CHECK_THAT(r.out, Catch::Contains("model.layers.0.mlp.up_proj.weight"));
        CHECK_THAT(r.out, Catch::Contains("model.layers.0.self_attn.q_proj.weight"));
        CHECK_THAT(r.out, Catch::Contains("model.norm.weight"));
        CHECK_THAT(r.out, Catch::Contains("3 tensors"));
    }
    SECTION("inspect --json is JSON") {
        const Run r = sutra_run({"inspect", model.string(), "--json"});
        INFO(r.err);
        REQUIRE(r.code == 0);
        nlohmann::json j;
        REQUIRE_NOTHROW(j = nlohmann::json::parse(r.out));
        CHECK(j["schema"] == "sutra.inspect/1");
        REQUIRE(j["tensors"].is_array());
        REQUIRE(j["tensors"].size() == 3);
        CHECK(j["tensors"][0]["name"] == "model.layers.0.mlp.up_proj.weight");
        CHECK(j["tensors"][0]["shape"] == nlohmann::json::array({8, 64}));
        CHECK(j["tensors"][2]["name"] == "model.norm.weight");
        CHECK(j["metadata"]["format"] == "pt");
    }
    SECTION("inspect of a bad file is one error line") {
        write_bytes(ws.in / "bad.safetensors", st_raw("[]"));
        check_one_line_error(sutra_run({"inspect", (ws.in / "bad.safetensors").string()}),
                             {"bad.safetensors"});
    }
    SECTION("quantize --json, then inspect --json and validate --json of the result") {
        const fs::path out = ws.out / "m.qbin";
        const Run q = sutra_run({"quantize", model.string(), "-o", out.string(), "--json"});
        INFO(q.err);
        REQUIRE(q.code == 0);
        CHECK(q.err.empty());
        nlohmann::json j;
        REQUIRE_NOTHROW(j = nlohmann::json::parse(q.out));
        CHECK(j["schema"] == "sutra.quantize/1");
        CHECK(j["tensors_quantized"] == 2);
        CHECK(j["tensors_kept"] == 1);
        CHECK(j["output_bytes"] == fs::file_size(out));
        CHECK(listing(ws.out) == std::vector<std::string>{"m.qbin"});

        const Run i = sutra_run({"inspect", out.string(), "--json"});
        REQUIRE(i.code == 0);
        nlohmann::json ij;
        REQUIRE_NOTHROW(ij = nlohmann::json::parse(i.out));
        CHECK(ij["kind"] == "qbin");

        const Run v = sutra_run({"validate", out.string(), "--against", model.string(), "--json"});
        INFO(v.err);
        CHECK(v.code == 0);
        nlohmann::json vj;
        REQUIRE_NOTHROW(vj = nlohmann::json::parse(v.out));
        CHECK(vj["passed"] == true);

        // A second run refuses to overwrite, --force replaces, both leave no temporary.
        check_one_line_error(sutra_run({"quantize", model.string(), "-o", out.string()}),
                             {"--force"});
        CHECK(sutra_run({"quantize", model.string(), "-o", out.string(), "--force"}).code == 0);
        CHECK(listing(ws.out) == std::vector<std::string>{"m.qbin"});
    }
    SECTION("--dry-run writes nothing") {
        const Run r = sutra_run(
            {"quantize", model.string(), "-o", (ws.out / "m.qbin").string(), "--dry-run"});
        INFO(r.err);
        CHECK(r.code == 0);
        CHECK_THAT(r.out, Catch::Contains("model.layers.0.mlp.up_proj.weight"));
        CHECK(listing(ws.out).empty());
    }
}

TEST_CASE("cli: stories260K with every preset", "[cli][shared]") {
    const fs::path src = sutra::test::shared_dir() / "models" / "stories260K-hf";
    if (!fs::exists(src / "model.safetensors")) {
        WARN("skipped: " << src << " not found");
        return;
    }
    TempDir tmp;
    const auto presets = sutra::plan::preset_names();
    REQUIRE(presets.size() >= 3);
    for (const auto& preset : presets) {
        INFO("preset " << preset);
        const fs::path out = tmp / (preset + ".qbin");
        const Run q = sutra_run({"quantize", src.string(), "-o", out.string(), "--preset", preset});
        INFO(q.err);
        REQUIRE(q.code == 0);
        CHECK(fs::exists(out));

        const Run v = sutra_run({"validate", out.string()});
        INFO(v.out << v.err);
        CHECK(v.code == 0);

        const Run strict = sutra_run(
            {"validate", out.string(), "--against", src.string(), "--max-rel-error", "0.0001"});
        INFO(strict.out << strict.err);
        CHECK(strict.code == 1);
        CHECK_THAT(strict.out, Catch::Contains("model.layers."));
        CHECK_THAT(strict.out, Catch::Contains("FAIL"));

        // Reproducible byte for byte.
        const fs::path again = tmp / (preset + ".again.qbin");
        REQUIRE(
            sutra_run({"quantize", src.string(), "-o", again.string(), "--preset", preset}).code ==
            0);
        CHECK(read_bytes(out) == read_bytes(again));
    }
    for (const auto& e : fs::directory_iterator(tmp.path()))
        CHECK(e.path().filename().string().find("sutra-tmp") == std::string::npos);
}
