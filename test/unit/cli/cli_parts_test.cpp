// `sutra quantize --part K/N` and `sutra merge`: the parts of one run, made at any thread count
// and in any order, merge into the bytes a single `sutra quantize` writes; a missing,
// duplicated, damaged or foreign part is refused with a one-line error naming it, and nothing
// is written then.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/cli_run.hpp"
#include "support/example_model.hpp"
#include "support/paths.hpp"
#include "support/scoped_env.hpp"
#include "support/st_builder.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"

namespace {

namespace fs = std::filesystem;
using sutra::test::check_one_line_error;
using sutra::test::CliRun;
using sutra::test::read_bytes;
using sutra::test::run_sutra;
using sutra::test::ScopedEnv;
using sutra::test::shared_dir;
using sutra::test::TempDir;

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

fs::path part_file(const fs::path& out, int k, int n) {
    return out.string() + ".part-" + std::to_string(k) + "-of-" + std::to_string(n);
}

// Quantizes every part (in reverse order, one thread each), merges them into out, and checks
// the bytes against a single run at two threads.
void check_parts_merge(const fs::path& model, const fs::path& out, int n,
                       const std::vector<std::string>& options) {
    for (int k = n; k >= 1; --k) {
        const CliRun r =
            run_sutra(with({"--threads", "1", "quantize", model.string(), "-o", out.string(),
                            "--part", std::to_string(k) + "/" + std::to_string(n), "--json"},
                           options));
        INFO(r.err);
        REQUIRE(r.code == 0);
        const auto j = nlohmann::json::parse(r.out);
        CHECK(j["output"] == part_file(out, k, n).string());
        CHECK(j["output_bytes"] == fs::file_size(part_file(out, k, n)));
        CHECK_FALSE(j["tensors"].empty());
    }
    CHECK_FALSE(fs::exists(out));
    std::vector<std::string> merge = {"merge"};
    for (int k = 1; k <= n; ++k)
        merge.push_back(part_file(out, k, n).string());
    const CliRun m = run_sutra(with(merge, {"-o", out.string(), "--json"}));
    INFO(m.err);
    REQUIRE(m.code == 0);
    const auto mj = nlohmann::json::parse(m.out);
    CHECK(mj["schema"] == "sutra.merge/1");
    CHECK(mj["parts"] == n);
    const fs::path single = out.string() + ".single";
    REQUIRE(run_sutra(with({"--threads", "2", "quantize", model.string(), "-o", single.string()},
                           options))
                .code == 0);
    CHECK(read_bytes(out) == read_bytes(single));
    CHECK(run_sutra({"validate", out.string()}).code == 0);
}

void flip_byte(const fs::path& p, uint64_t at) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    f.seekp(static_cast<std::streamoff>(at));
    f.write(&c, 1);
}

}  // namespace

TEST_CASE("cli: quantize --part K/N, then merge: the single run's bytes", "[cli][parts]") {
    TempDir dir;
    const fs::path model = sutra::test::write_tiny_example(dir, 4);
    SECTION("RTN, 4-bit g128, 2 parts") {
        check_parts_merge(model, dir / "rtn.qbin", 2,
                          {"--method", "rtn", "--bits", "4", "--group-size", "128"});
    }
    SECTION("RTN, 3-bit g32, 4 parts (one block each)") {
        check_parts_merge(model, dir / "rtn3.qbin", 4,
                          {"--method", "rtn", "--bits", "3", "--group-size", "32"});
    }
    SECTION("the preset's data-free salience, 3 parts") {
        check_parts_merge(model, dir / "df.qbin", 3, {"--preset", "aggressive"});
    }
}

TEST_CASE("cli: parts of stories260K merge into the single run's bytes", "[cli][parts][shared]") {
    const fs::path model = shared_dir() / "models" / "stories260K-hf";
    REQUIRE(fs::exists(model / "model.safetensors"));
    TempDir dir;
    check_parts_merge(model, dir / "s.qbin", 4,
                      {"--method", "rtn", "--bits", "4", "--group-size", "32"});
    check_parts_merge(model, dir / "d.qbin", 5, {});
}

TEST_CASE(
    "cli: AWQ parts (each runs the full-precision blocks before its own) merge into the "
    "single run's bytes",
    "[cli][parts][shared]") {
    const fs::path calib = shared_dir() / "text" / "tinystories_calib.txt";
    REQUIRE(fs::exists(calib));
    TempDir dir;
    const std::vector<std::string> awq = {"--method",       "awq",  "--calib-text", calib.string(),
                                          "--calib-tokens", "4096", "--bits",       "4",
                                          "--group-size",   "32"};
    SECTION("Llama's own block search, 4 parts") {
        const fs::path model = shared_dir() / "models" / "stories260K-hf";
        check_parts_merge(model, dir / "a.qbin", 4, awq);
    }
    SECTION("the generic block search, Mamba, 2 parts") {
        const fs::path model = shared_dir() / "models" / "tiny-mamba";
        check_parts_merge(model, dir / "m.qbin", 2, awq);
    }
    SECTION("GPTQ on full-precision inputs, 4 parts") {
        const fs::path model = shared_dir() / "models" / "stories260K-hf";
        check_parts_merge(
            model, dir / "g.qbin", 4,
            {"--method", "gptq", "--gptq-inputs", "fp", "--calib-text", calib.string(),
             "--calib-tokens", "4096", "--bits", "4", "--group-size", "32"});
    }
}

TEST_CASE("cli: GPTQ parts on full-precision inputs of a model with q/k/v biases", "[cli][parts]") {
    TempDir dir;
    auto shape = sutra::pipeline::example_shape("tiny-qwen2");
    REQUIRE(shape.ok());
    sutra::pipeline::ExampleOptions eo;
    eo.shape = *shape;
    const fs::path model = dir / "qwen2";
    SUTRA_REQUIRE_OK(sutra::pipeline::write_example_checkpoint(model, eo));
    std::string ids;
    for (int i = 0; i < 1024; ++i)
        ids += std::to_string((i * 7919) % 512) + " ";
    const fs::path ids_file = dir / "ids.txt";
    sutra::test::write_text(ids_file, ids);
    check_parts_merge(model, dir / "q.qbin", 2,
                      {"--method", "gptq", "--gptq-inputs", "fp", "--calib-ids", ids_file.string(),
                       "--bits", "4", "--group-size", "32"});
}

TEST_CASE("cli: --part env reads the Slurm array or the Kubernetes index", "[cli][parts]") {
    TempDir dir;
    const fs::path model = sutra::test::write_tiny_example(dir, 4);
    const fs::path out = dir / "m.qbin";
    const std::vector<std::string> q = {"quantize", model.string(), "-o",     out.string(),
                                        "--method", "rtn",          "--part", "env"};
    {
        ScopedEnv id("SLURM_ARRAY_TASK_ID", "0"), min("SLURM_ARRAY_TASK_MIN", "0"),
            count("SLURM_ARRAY_TASK_COUNT", "2");
        REQUIRE(run_sutra(q).code == 0);
        CHECK(fs::exists(part_file(out, 1, 2)));
    }
    {
        ScopedEnv index("JOB_COMPLETION_INDEX", "1");
        check_one_line_error(run_sutra(q), {"--parts"});
        REQUIRE(run_sutra(with(q, {"--parts", "2"})).code == 0);
        CHECK(fs::exists(part_file(out, 2, 2)));
    }
    check_one_line_error(run_sutra(q), {"SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"});
    REQUIRE(run_sutra({"merge", part_file(out, 2, 2).string(), part_file(out, 1, 2).string(), "-o",
                       out.string()})
                .code == 0);
    const fs::path single = dir / "single.qbin";
    REQUIRE(
        run_sutra({"quantize", model.string(), "-o", single.string(), "--method", "rtn"}).code ==
        0);
    CHECK(read_bytes(out) == read_bytes(single));
}

TEST_CASE("cli: merge refuses a missing, duplicated, foreign or damaged part", "[cli][parts]") {
    TempDir dir;
    const fs::path model = sutra::test::write_tiny_example(dir, 4);
    const fs::path out = dir / "m.qbin";
    for (int k = 1; k <= 3; ++k)
        REQUIRE(run_sutra({"quantize", model.string(), "-o", out.string(), "--method", "rtn",
                           "--part", std::to_string(k) + "/3"})
                    .code == 0);
    const std::string p1 = part_file(out, 1, 3).string(), p2 = part_file(out, 2, 3).string(),
                      p3 = part_file(out, 3, 3).string();
    const std::string o = (dir / "merged.qbin").string();
    check_one_line_error(run_sutra({"merge", p1, p3, "-o", o}), {"part 2 of 3 is missing"});
    check_one_line_error(run_sutra({"merge", p1, p2, p2, p3, "-o", o}), {p2, "both part 2 of 3"});
    // Another run: other options, or another number of parts.
    const fs::path other = dir / "other.qbin";
    REQUIRE(run_sutra({"quantize", model.string(), "-o", other.string(), "--method", "rtn",
                       "--bits", "8", "--part", "2/3"})
                .code == 0);
    check_one_line_error(run_sutra({"merge", p1, part_file(other, 2, 3).string(), p3, "-o", o}),
                         {part_file(other, 2, 3).string(), "another run"});
    REQUIRE(run_sutra({"quantize", model.string(), "-o", other.string(), "--method", "rtn",
                       "--part", "2/2"})
                .code == 0);
    check_one_line_error(run_sutra({"merge", p1, part_file(other, 2, 2).string(), p3, "-o", o}),
                         {"another run"});
    // Damaged: a data byte, a header byte, a truncated file, not a part at all.
    const fs::path bad = dir / "bad.part";
    fs::copy_file(p2, bad);
    flip_byte(bad, fs::file_size(bad) - 5);
    check_one_line_error(run_sutra({"merge", p1, bad.string(), p3, "-o", o}),
                         {bad.string(), "damaged", "part 2 of 3 again"});
    fs::remove(bad);
    fs::copy_file(p2, bad);
    flip_byte(bad, 40);
    check_one_line_error(run_sutra({"merge", p1, bad.string(), p3, "-o", o}), {bad.string()});
    fs::remove(bad);
    fs::copy_file(p2, bad);
    fs::resize_file(bad, fs::file_size(bad) - 1);
    check_one_line_error(run_sutra({"merge", p1, bad.string(), p3, "-o", o}),
                         {bad.string(), "truncated"});
    check_one_line_error(
        run_sutra({"merge", p1, (model / "model.safetensors").string(), p3, "-o", o}),
        {"model.safetensors"});
    CHECK_FALSE(fs::exists(o));  // nothing written on any refusal
    // A good merge, then an existing output without --force.
    REQUIRE(run_sutra({"merge", p3, p1, p2, "-o", o}).code == 0);
    check_one_line_error(run_sutra({"merge", p1, p2, p3, "-o", o}), {"--force"});
    CHECK(run_sutra({"merge", p1, p2, p3, "-o", o, "--force"}).code == 0);
    // A part is not a .qbin: the commands that read one say what to do.
    check_one_line_error(run_sutra({"inspect", p1}), {"sutra merge"});
}

TEST_CASE("cli: --part refuses what it cannot split", "[cli][parts]") {
    TempDir dir;
    const fs::path model = sutra::test::write_tiny_example(dir, 4);
    const std::string out = (dir / "m.qbin").string();
    check_one_line_error(run_sutra({"quantize", model.string(), "-o", out, "--part", "5/5"}),
                         {"4 decoder blocks", "at most 4"});
    check_one_line_error(run_sutra({"quantize", model.string(), "-o", out, "--part", "0/2"}),
                         {"--part 0/2"});
    check_one_line_error(run_sutra({"quantize", model.string(), "-o", out, "--parts", "2"}),
                         {"--parts goes with --part env"});
    check_one_line_error(
        run_sutra({"quantize", model.string(), "-o", out, "--part", "1/2", "--format", "gguf"}),
        {"sutra export"});
    const fs::path calib = dir / "calib.txt";
    sutra::test::write_text(calib, "Once upon a time there was a little girl.\n");
    for (const char* method : {"gptq", "awq+gptq"})
        check_one_line_error(
            run_sutra({"quantize", model.string(), "-o", out, "--part", "1/2", "--method", method,
                       "--calib-text", calib.string(), "--tokenizer", "bytes"}),
            {"--part", "GPTQ", "--gptq-inputs fp"});
    CHECK_FALSE(fs::exists(part_file(out, 1, 2)));
}
