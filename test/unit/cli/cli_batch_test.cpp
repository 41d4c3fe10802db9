// `sutra quantize --batch MANIFEST.jsonl`: the jobs run in order, one JSON line each on
// stdout, a failed job does not stop the others, exit 1 when any failed; each output is the
// bytes `sutra quantize` alone writes for the same options. A bad manifest runs nothing.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/cli_run.hpp"
#include "support/example_model.hpp"
#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"

namespace {

namespace fs = std::filesystem;
using sutra::test::check_one_line_error;
using sutra::test::CliRun;
using sutra::test::lines;
using sutra::test::read_bytes;
using sutra::test::run_sutra;
using sutra::test::TempDir;
using sutra::test::write_text;

std::string job(const fs::path& model, const fs::path& out, const std::vector<std::string>& args) {
    nlohmann::json j;
    j["model"] = model.string();
    j["output"] = out.string();
    j["args"] = args;
    return j.dump() + "\n";
}

}  // namespace

TEST_CASE("cli: quantize --batch runs every job, reports each, continues after a failure",
          "[cli][batch]") {
    TempDir dir;
    const fs::path model = sutra::test::write_tiny_example(dir);
    const fs::path a = dir / "a.qbin", b = dir / "b.qbin", c = dir / "c.qbin";
    const fs::path manifest = dir / "jobs.jsonl";
    write_text(manifest, job(model, a, {"--method", "rtn", "--bits", "4"}) + "\n" +
                             job(dir / "missing", b, {"--bits", "4"}) +
                             job(model, c,
                                 {"--method", "rtn", "--bits", "8", "--group-size", "64",
                                  "--preset", "aggressive"}));
    const CliRun r = run_sutra({"--threads", "2", "quantize", "--batch", manifest.string()});
    INFO(r.err);
    CHECK(r.code == 1);
    const auto out = lines(r.out);
    REQUIRE(out.size() == 3);
    const auto j1 = nlohmann::json::parse(out[0]);
    const auto j2 = nlohmann::json::parse(out[1]);
    const auto j3 = nlohmann::json::parse(out[2]);
    CHECK(j1["schema"] == "sutra.batch/1");
    CHECK(j1["line"] == 1);
    CHECK(j1["ok"] == true);
    CHECK(j1["exit_code"] == 0);
    CHECK(j1["result"]["method"] == "rtn");
    CHECK(j1["result"]["output_bytes"] == fs::file_size(a));
    CHECK(j2["line"] == 3);
    CHECK(j2["ok"] == false);
    CHECK(j2["exit_code"] == 2);
    CHECK_THAT(j2["error"].get<std::string>(), Catch::Contains("missing"));
    CHECK_FALSE(fs::exists(b));
    CHECK(j3["line"] == 4);
    CHECK(j3["ok"] == true);
    CHECK(j3["result"]["config"]["preset"] == "aggressive");
    CHECK_THAT(r.err, Catch::Contains("line 3"));

    // The same bytes as the single command with the same options, at another thread count.
    const fs::path a1 = dir / "a1.qbin", c1 = dir / "c1.qbin";
    REQUIRE(run_sutra({"--threads", "1", "quantize", model.string(), "-o", a1.string(), "--method",
                       "rtn", "--bits", "4"})
                .code == 0);
    REQUIRE(run_sutra({"quantize", model.string(), "-o", c1.string(), "--method", "rtn", "--bits",
                       "8", "--group-size", "64", "--preset", "aggressive"})
                .code == 0);
    CHECK(read_bytes(a) == read_bytes(a1));
    CHECK(read_bytes(c) == read_bytes(c1));

    SECTION("all jobs succeeding: exit 0; an existing output is refused without --force") {
        write_text(manifest, job(model, a, {"--method", "rtn", "--bits", "4", "--force"}) +
                                 job(model, c, {"--method", "rtn"}));
        const CliRun again = run_sutra({"quantize", "--batch", manifest.string()});
        CHECK(again.code == 1);
        const auto ls = lines(again.out);
        REQUIRE(ls.size() == 2);
        CHECK(nlohmann::json::parse(ls[0])["ok"] == true);
        CHECK(nlohmann::json::parse(ls[1])["ok"] == false);
        CHECK(read_bytes(c) == read_bytes(c1));  // nothing the user had is lost

        write_text(manifest, job(model, a, {"--method", "rtn", "--bits", "4", "--force"}));
        const CliRun ok = run_sutra({"quantize", "--batch", manifest.string()});
        CHECK(ok.code == 0);
        CHECK(lines(ok.out).size() == 1);
        CHECK(read_bytes(a) == read_bytes(a1));
    }
    SECTION("a job's bad flag fails that job only") {
        write_text(manifest, job(model, dir / "d.qbin", {"--bits", "5"}) +
                                 job(model, dir / "e.qbin", {"--no-such-flag"}) +
                                 job(model, dir / "f.qbin", {"--method", "rtn"}));
        const CliRun bad = run_sutra({"quantize", "--batch", manifest.string()});
        CHECK(bad.code == 1);
        const auto ls = lines(bad.out);
        REQUIRE(ls.size() == 3);
        CHECK(nlohmann::json::parse(ls[0])["ok"] == false);
        CHECK_THAT(nlohmann::json::parse(ls[1])["error"].get<std::string>(),
                   Catch::Contains("--no-such-flag"));
        CHECK(nlohmann::json::parse(ls[2])["ok"] == true);
        CHECK_FALSE(fs::exists(dir / "d.qbin"));
        CHECK_FALSE(fs::exists(dir / "e.qbin"));
        CHECK(fs::exists(dir / "f.qbin"));
    }
}

TEST_CASE("cli: quantize --batch refuses a bad manifest before running anything", "[cli][batch]") {
    TempDir dir;
    const fs::path model = sutra::test::write_tiny_example(dir);
    const fs::path manifest = dir / "jobs.jsonl";
    write_text(manifest, job(model, dir / "a.qbin", {}) + "{\"model\": \"m\", \"out\": \"o\"}\n");
    check_one_line_error(run_sutra({"quantize", "--batch", manifest.string()}),
                         {"jobs.jsonl line 2", "unknown key \"out\""});
    CHECK_FALSE(fs::exists(dir / "a.qbin"));
    check_one_line_error(run_sutra({"quantize", "--batch", (dir / "none.jsonl").string()}),
                         {"none.jsonl"});
    write_text(manifest, job(model, dir / "a.qbin", {}));
    check_one_line_error(
        run_sutra({"quantize", "--batch", manifest.string(), "-o", (dir / "x.qbin").string()}),
        {"--batch", "--output"});
    check_one_line_error(run_sutra({"quantize", "--batch", manifest.string(), "--bits", "4"}),
                         {"--bits"});
    check_one_line_error(run_sutra({"quantize", model.string()}), {"-o"});
    CHECK_FALSE(fs::exists(dir / "a.qbin"));
}
