// End-to-end tests of the `sutra` executable for the speed work: --isa / SUTRA_ISA and
// --version, --threads, quantize --max-memory, and `sutra bench` (model runs and --kernels).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/cli_run.hpp"
#include "support/example_model.hpp"
#include "support/paths.hpp"
#include "support/scoped_env.hpp"
#include "support/st_builder.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"
#include "sutra/simd/dispatch.hpp"

namespace {

using sutra::test::check_one_line_error;
using sutra::test::lines;
using sutra::test::listing;

namespace fs = std::filesystem;
using sutra::test::CliRun;
using sutra::test::run_sutra;
using sutra::test::ScopedEnv;
using sutra::test::TempDir;

// The line "kernels: NAME (available: A, B, ...; ...)" of `sutra --version`.
std::string kernels_line(const std::string& out) {
    for (const auto& l : lines(out))
        if (l.rfind("kernels: ", 0) == 0) return l;
    return {};
}

std::string available_text() {
    std::string s;
    for (const auto& a : sutra::simd::available_isas())
        s += (s.empty() ? "" : ", ") + a;
    return s;
}

}  // namespace

TEST_CASE("cli: --version names the ISA in use and the available ones; --isa forces one",
          "[cli][stage3]") {
    const std::string avail = "(available: " + available_text() + ";";
    SECTION("default: the best available") {
        const CliRun r = run_sutra({"--version"});
        INFO(r.err);
        CHECK(r.code == 0);
        CHECK(kernels_line(r.out) == "kernels: " + sutra::simd::available_isas().front() + " " +
                                         avail + " choose with --isa or SUTRA_ISA)");
    }
    SECTION("--isa scalar") {
        const CliRun r = run_sutra({"--isa", "scalar", "--version"});
        INFO(r.err);
        CHECK(r.code == 0);
        CHECK_THAT(kernels_line(r.out), Catch::StartsWith("kernels: scalar " + avail));
    }
    SECTION("SUTRA_ISA=scalar, and --isa wins over it") {
        ScopedEnv env("SUTRA_ISA", "scalar");
        const CliRun r = run_sutra({"--version"});
        CHECK(r.code == 0);
        CHECK_THAT(kernels_line(r.out), Catch::StartsWith("kernels: scalar "));
        const std::string best = sutra::simd::available_isas().front();
        const CliRun f = run_sutra({"--isa", best, "--version"});
        CHECK(f.code == 0);
        CHECK_THAT(kernels_line(f.out), Catch::StartsWith("kernels: " + best + " "));
    }
    SECTION("--isa bogus") {
        check_one_line_error(run_sutra({"--isa", "bogus", "--version"}),
                             {"--isa", "bogus", "scalar"});
        check_one_line_error(run_sutra({"--isa", "bogus", "inspect", "x.safetensors"}),
                             {"--isa", "bogus", "scalar"});
    }
    SECTION("SUTRA_ISA=bogus") {
        ScopedEnv env("SUTRA_ISA", "bogus");
        check_one_line_error(run_sutra({"--version"}), {"SUTRA_ISA", "bogus", "scalar"});
        check_one_line_error(run_sutra({"inspect", "x.safetensors"}),
                             {"SUTRA_ISA", "bogus", "scalar"});
    }
}

TEST_CASE("cli: --threads 0 is refused", "[cli][stage3]") {
    const CliRun r = run_sutra({"--threads", "0", "inspect", "x.safetensors"});
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, Catch::Contains("--threads"));
}

TEST_CASE("cli: quantize --max-memory", "[cli][stage3]") {
    TempDir tmp;
    const fs::path model = sutra::test::write_tiny_example(tmp);
    const fs::path out_dir = tmp / "out";
    fs::create_directory(out_dir);
    const std::string out = (out_dir / "m.qbin").string();

    SECTION("too small: the error says the minimum") {
        check_one_line_error(
            run_sutra({"quantize", model.string(), "-o", out, "--max-memory", "1K"}),
            {"--max-memory", "MiB", "raise it"});
    }
    SECTION("not a size") {
        check_one_line_error(
            run_sutra({"quantize", model.string(), "-o", out, "--max-memory", "banana"}),
            {"--max-memory", "banana"});
    }
    SECTION("a workable cap") {
        const CliRun r = run_sutra(
            {"--threads", "2", "quantize", model.string(), "-o", out, "--max-memory", "1G"});
        INFO(r.err);
        CHECK(r.code == 0);
        CHECK(listing(out_dir) == std::vector<std::string>{"m.qbin"});
        fs::remove(out);
    }
    CHECK(listing(out_dir).empty());
}

TEST_CASE("cli: quantize gives the same bytes for any --threads and --isa", "[cli][stage3]") {
    TempDir tmp;
    const fs::path model = sutra::test::write_tiny_example(tmp);
    auto run = [&](std::vector<std::string> global, const std::string& name) {
        const fs::path out = tmp / name;
        global.insert(global.end(), {"quantize", model.string(), "-o", out.string()});
        const CliRun r = run_sutra(global);
        INFO(r.err);
        REQUIRE(r.code == 0);
        return sutra::test::read_bytes(out);
    };
    const auto ref = run({"--threads", "1", "--isa", "scalar"}, "a.qbin");
    REQUIRE_FALSE(ref.empty());
    CHECK((run({"--threads", "3"}, "b.qbin") == ref));
    CHECK(
        (run({"--isa", sutra::simd::available_isas().front(), "--threads", "2"}, "c.qbin") == ref));
}

TEST_CASE("cli: bench MODEL --json", "[cli][stage3][bench]") {
    TempDir tmp;
    const fs::path model = sutra::test::write_tiny_example(tmp);
    const fs::path out_dir = tmp / "bench-out";
    fs::create_directory(out_dir);

    SECTION("rtn: the schema, the copy limit and every stage") {
        const CliRun r =
            run_sutra({"--isa", "scalar", "--threads", "2", "bench", model.string(), "--runs", "1",
                       "--warmup", "0", "--json", "--out-dir", out_dir.string()});
        INFO("stderr: " << r.err);
        REQUIRE(r.code == 0);
        nlohmann::json j;
        REQUIRE_NOTHROW(j = nlohmann::json::parse(r.out));
        CHECK(j["schema"] == "sutra.bench/1");
        CHECK(j["isa"] == "scalar");
        CHECK(j["threads"] == 2);
        CHECK(j["runs"] == 1);
        CHECK(j["warmup"] == 0);
        CHECK(j["input_bytes"].get<uint64_t>() > 0);
        CHECK(j["weights"].get<uint64_t>() > 0);
        REQUIRE(j["copy_limit"].is_object());
        CHECK(j["copy_limit"]["seconds"]["median"].get<double>() > 0);
        REQUIRE(j["methods"].is_array());
        REQUIRE(j["methods"].size() == 1);
        const auto& m = j["methods"][0];
        CHECK(m["method"] == "rtn");
        CHECK(m["seconds"]["median"].get<double>() > 0);
        CHECK(m["output_bytes"].get<uint64_t>() > 0);
        REQUIRE(m["stage_thread_seconds"].is_object());
        std::set<std::string> keys;
        for (const auto& [k, v] : m["stage_thread_seconds"].items()) {
            keys.insert(k);
            CHECK(v["median"].get<double>() >= 0);
        }
        CHECK(keys == std::set<std::string>{"read", "quantize", "write"});
        CHECK(listing(out_dir).empty());  // every output removed after its run
    }
    SECTION("awq without calibration") {
        check_one_line_error(run_sutra({"bench", model.string(), "--methods", "awq", "--runs", "1",
                                        "--warmup", "0", "--out-dir", out_dir.string()}),
                             {"awq", "calib"});
        CHECK(listing(out_dir).empty());
    }
}

TEST_CASE("cli: bench --kernels --json lists every available ISA against scalar",
          "[cli][stage3][bench]") {
    const CliRun r =
        run_sutra({"bench", "--kernels", "--kernel-elements", "4096", "--runs", "1", "--json"});
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    nlohmann::json j;
    REQUIRE_NOTHROW(j = nlohmann::json::parse(r.out));
    CHECK(j["schema"] == "sutra.bench/1");
    CHECK_FALSE(j.contains("methods"));
    REQUIRE(j["kernels"].is_array());
    std::vector<std::string> isas;
    for (const auto& k : j["kernels"]) {
        if (k["kernel"] != "quantize") continue;
        isas.push_back(k["isa"].get<std::string>());
        CHECK(k["elements"] == 4096);
        CHECK(k["ns_per_element_median"].get<double>() > 0);
        if (k["isa"] == "scalar") {
            INFO("scalar speedup_vs_scalar: " << k["speedup_vs_scalar"].dump());
            CHECK(k["speedup_vs_scalar"].get<double>() == 1.0);
        }
    }
    CHECK(isas == sutra::simd::available_isas());
}
