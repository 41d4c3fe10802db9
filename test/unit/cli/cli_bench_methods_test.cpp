// `sutra bench MODEL --methods ... --eval-text FILE`: methods compared on accuracy and cost on
// stories260K, in JSON, as tables and as an SVG frontier; and what it refuses (exit 2).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "support/checks.hpp"
#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "support/xml_check.hpp"

namespace {

namespace fs = std::filesystem;
using sutra::test::check_one_line_error;
using sutra::test::CliRun;
using sutra::test::listing;
using sutra::test::run_sutra;
using sutra::test::shared_dir;
using sutra::test::TempDir;

std::string model() {
    return (shared_dir() / "models" / "stories260K-hf").string();
}
std::string calib_text() {
    return (shared_dir() / "text" / "tinystories_calib.txt").string();
}
std::string eval_text() {
    return (shared_dir() / "text" / "tinystories_eval.txt").string();
}

// Short enough for a test: 8 calibration windows, 5 alpha values, 2048 evaluation tokens.
std::vector<std::string> accuracy_args(const fs::path& out_dir) {
    return {"bench",
            model(),
            "--methods",
            "rtn,awq",
            "--config",
            (sutra::test::source_dir() / "configs" / "linears-4bit-g32.json").string(),
            "--bits",
            "3,4",
            "--group-size",
            "32",
            "--calib-text",
            calib_text(),
            "--calib-tokens",
            "2048",
            "--awq-grid",
            "5",
            "--eval-text",
            eval_text(),
            "--eval-tokens",
            "2048",
            "--out-dir",
            out_dir.string()};
}

// Replaces the value after `flag` in `args`.
void set_flag(std::vector<std::string>& args, const std::string& flag, const std::string& value) {
    auto it = std::find(args.begin(), args.end(), flag);
    REQUIRE(it != args.end());
    REQUIRE(it + 1 != args.end());
    *(it + 1) = value;
}

bool finite(const nlohmann::json& v) {
    return v.is_number() && std::isfinite(v.get<double>());
}

}  // namespace

TEST_CASE("cli: bench --eval-text compares rtn and awq at 3 and 4 bits",
          "[cli][shared][slow][bench]") {
    REQUIRE(fs::exists(eval_text()));
    TempDir tmp;
    const fs::path out_dir = tmp / "out";
    fs::create_directory(out_dir);
    const fs::path plot = tmp / "frontier.svg";
    auto args = accuracy_args(out_dir);
    args.insert(args.end(), {"--json", "--plot", plot.string()});
    const CliRun r = run_sutra(args);
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    nlohmann::json j;
    REQUIRE_NOTHROW(j = nlohmann::json::parse(r.out));
    CHECK(j["schema"] == "sutra.bench.accuracy/1");
    CHECK(j["model"] == model());
    CHECK(j["group_size"] == "32");
    CHECK(j["isolation"] == "fork");
    CHECK(j["eval"]["text"] == eval_text());
    CHECK(j["eval"]["tokens"] == 2048);
    CHECK(j["eval"]["windows"] == (2048 + 254) / 255);
    CHECK(finite(j["eval"]["reference_perplexity"]));
    REQUIRE(j["calibration"].is_object());
    CHECK(j["calibration"]["kind"] == "text");
    CHECK(j["calibration"]["windows"] == 2048 / 255);
    CHECK(j["calibration"]["seq_len"] == 256);

    REQUIRE(j["points"].is_array());
    REQUIRE(j["points"].size() == 4);
    std::map<std::pair<std::string, int>, nlohmann::json> by;
    const double ref_ppl = j["eval"]["reference_perplexity"].get<double>();
    for (const auto& p : j["points"]) {
        const std::string m = p["method"].get<std::string>();
        const int bits = p["bits"].get<int>();
        INFO(m << " " << bits);
        CHECK(p["method_used"] == m);
        CHECK(finite(p["perplexity"]));
        CHECK(finite(p["mean_kl"]));
        CHECK(finite(p["top1_agreement"]));
        CHECK(p["perplexity"].get<double>() > ref_ppl);
        CHECK(p["mean_kl"].get<double>() > 0);
        CHECK(p["top1_agreement"].get<double>() > 0.3);
        CHECK(p["top1_agreement"].get<double>() < 1.0);
        CHECK(p["output_bytes"].get<uint64_t>() > 0);
        CHECK(p["compression_ratio"].get<double>() ==
              Approx(j["input_bytes"].get<double>() / p["output_bytes"].get<double>()));
        CHECK(p["quantize_seconds"].get<double>() > 0);
        CHECK(p["peak_rss_bytes"].get<uint64_t>() > 0);
        CHECK(p["eval_seconds"].get<double>() > 0);
        by[{m, bits}] = p;
    }
    REQUIRE(by.size() == 4);
    // README (AWQ table): AWQ lowers round-to-nearest's KL on this model at 4-bit g32 (3 too).
    CHECK(by[{"rtn", 4}]["mean_kl"].get<double>() > by[{"awq", 4}]["mean_kl"].get<double>());
    CHECK(by[{"rtn", 3}]["mean_kl"].get<double>() > by[{"awq", 3}]["mean_kl"].get<double>());
    // Fewer bits: smaller and worse.
    for (const std::string m : {"rtn", "awq"}) {
        CHECK(by[{m, 3}]["output_bytes"].get<uint64_t>() <
              by[{m, 4}]["output_bytes"].get<uint64_t>());
        CHECK(by[{m, 3}]["mean_kl"].get<double>() > by[{m, 4}]["mean_kl"].get<double>());
    }
    // AWQ runs the model on the calibration windows; round-to-nearest only streams the weights.
    CHECK(by[{"awq", 4}]["peak_rss_bytes"].get<uint64_t>() >
          by[{"rtn", 4}]["peak_rss_bytes"].get<uint64_t>());

    // The plot: well-formed, one marker per method and width, one series per method.
    REQUIRE(fs::exists(plot));
    const auto bytes = sutra::test::read_bytes(plot);
    const sutra::test::XmlCheck x = sutra::test::check_xml(std::string(bytes.begin(), bytes.end()));
    INFO(x.error);
    REQUIRE(x.ok);
    CHECK(x.elements.front().name == "svg");
    std::multiset<std::string> series;
    for (const auto& e : x.elements)
        if (e.attributes.count("class") && e.attributes.at("class") == "point")
            series.insert(e.attributes.at("data-series"));
    CHECK(series == std::multiset<std::string>{"awq", "awq", "rtn", "rtn"});
    CHECK(listing(out_dir).empty());  // every .qbin and the calibration file removed
    CHECK(listing(tmp.path()) == std::vector<std::string>{"frontier.svg", "out"});
}

TEST_CASE("cli: bench --eval-text tables and Markdown", "[cli][shared][slow][bench]") {
    TempDir tmp;
    auto args = accuracy_args(tmp.path());
    set_flag(args, "--methods", "rtn");  // no calibration needed, so none collected
    set_flag(args, "--bits", "4");
    for (const bool md : {false, true}) {
        auto a = args;
        if (md) a.push_back("--markdown");
        const CliRun r = run_sutra(a);
        INFO("stderr: " << r.err);
        REQUIRE(r.code == 0);
        const auto ls = sutra::test::lines(r.out);
        REQUIRE(ls.size() >= 4);
        CHECK_THAT(r.out, Catch::Contains("full-precision perplexity"));
        CHECK_THAT(r.out, Catch::Contains("mean KL"));
        CHECK_THAT(r.out, Catch::Contains("peak RSS"));
        CHECK(r.out.find("calibrated once") == std::string::npos);
        if (md) {
            CHECK_THAT(r.out, Catch::Contains("| method "));
            CHECK_THAT(r.out, Catch::Contains("|---"));
            CHECK_THAT(r.out, Catch::Contains("| rtn "));
        } else {
            CHECK(r.out.find('|') == std::string::npos);
            CHECK(ls.back().rfind("rtn ", 0) == 0);
        }
    }
    CHECK(listing(tmp.path()).empty());
}

TEST_CASE("cli: bench --eval-text refuses what it cannot compare", "[cli][shared][bench]") {
    TempDir tmp;
    const fs::path out_dir = tmp / "out";
    fs::create_directory(out_dir);
    SECTION("the calibration text as evaluation text: the same file, a link, a copy") {
        const fs::path copy = tmp / "copy.txt";
        fs::copy_file(calib_text(), copy);
        fs::create_symlink(calib_text(), tmp / "link.txt");
        for (const std::string& e : {calib_text(), (tmp / "link.txt").string(), copy.string()}) {
            INFO(e);
            auto a = accuracy_args(out_dir);
            set_flag(a, "--eval-text", e);
            check_one_line_error(run_sutra(a), {"--eval-text", "--calib-text", "held-out"});
        }
    }
    SECTION("an unknown method, with the quantize parser's message") {
        auto a = accuracy_args(out_dir);
        set_flag(a, "--methods", "rtn,awk");
        check_one_line_error(run_sutra(a),
                             {"--methods", "unknown method \"awk\"", "did you mean \"awq\"?"});
    }
    SECTION("a bad width") {
        auto a = accuracy_args(out_dir);
        set_flag(a, "--bits", "4,5");
        check_one_line_error(run_sutra(a), {"--bits", "3, 4 or 8"});
    }
    SECTION("a list of widths or a plot without --eval-text") {
        check_one_line_error(run_sutra({"bench", model(), "--bits", "3,4"}),
                             {"list of --bits", "--eval-text"});
        check_one_line_error(run_sutra({"bench", model(), "--plot", (tmp / "p.svg").string()}),
                             {"--plot", "--eval-text"});
    }
    SECTION("--runs with --eval-text") {
        auto a = accuracy_args(out_dir);
        a.insert(a.end(), {"--runs", "2"});
        check_one_line_error(run_sutra(a), {"--runs", "--eval-text"});
    }
    SECTION("a plot over an input") {
        auto a = accuracy_args(out_dir);
        a.insert(a.end(), {"--plot", eval_text()});
        check_one_line_error(run_sutra(a), {eval_text()});
        const std::string weights = model() + "/model.safetensors";
        set_flag(a, "--plot", weights);
        check_one_line_error(run_sutra(a), {weights});
    }
    CHECK(listing(out_dir).empty());
}
