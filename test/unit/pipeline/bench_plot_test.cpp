// The SVG chart of `sutra bench --plot`: well-formed, one marker per finite point, inside the
// canvas, text escaped; the frontier of an accuracy report; the atomic write.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "support/checks.hpp"
#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "support/xml_check.hpp"
#include "sutra/pipeline/bench_plot.hpp"

namespace {

namespace fs = std::filesystem;
using namespace sutra;
using pipeline::Plot;
using pipeline::PlotPoint;

std::vector<test::XmlElement> points_of(const test::XmlCheck& x) {
    std::vector<test::XmlElement> v;
    for (const auto& e : x.elements) {
        auto it = e.attributes.find("class");
        if (it != e.attributes.end() && it->second == "point") v.push_back(e);
    }
    return v;
}

// The first "M x,y" of a marker's path data.
std::pair<double, double> start_of(const test::XmlElement& e) {
    const std::string& d = e.attributes.at("d");
    REQUIRE(d.size() > 1);
    REQUIRE(d[0] == 'M');
    const size_t comma = d.find(',');
    return {std::stod(d.substr(1, comma - 1)), std::stod(d.substr(comma + 1))};
}

}  // namespace

TEST_CASE("bench plot: one marker per finite point, two series, escaped names",
          "[pipeline][bench]") {
    Plot p;
    p.title = "a <model> & more";
    p.x_label = "output size (KB)";
    p.y_label = "mean KL";
    p.series.push_back({"rtn", {{186, 0.11, "4-bit", "rtn 4"}, {154, 0.72, "3-bit", "rtn 3"}}});
    p.series.push_back({"awq+\"gptq\"",
                        {{187, 0.09, "4-bit", "a"},
                         {155, 0.57, "3-bit", "b"},
                         {std::numeric_limits<double>::quiet_NaN(), 0.1, "x", "nan"},
                         {170, std::numeric_limits<double>::infinity(), "y", "inf"}}});
    const std::string svg = pipeline::render_svg(p);
    const test::XmlCheck x = test::check_xml(svg);
    INFO(x.error);
    REQUIRE(x.ok);
    REQUIRE_FALSE(x.elements.empty());
    CHECK(x.elements[0].name == "svg");
    CHECK(x.elements[0].attributes.at("xmlns") == "http://www.w3.org/2000/svg");
    const auto pts = points_of(x);
    REQUIRE(pts.size() == 4);  // the NaN and infinite points are left out
    int rtn = 0, other = 0;
    for (const auto& e : pts) {
        const auto& s = e.attributes.at("data-series");
        rtn += s == "rtn";
        other += s == "awq+&quot;gptq&quot;";
        const auto [px, py] = start_of(e);
        CHECK(px >= 0);
        CHECK(px <= 720);
        CHECK(py >= 0);
        CHECK(py <= 440);
    }
    CHECK(rtn == 2);
    CHECK(other == 2);
    CHECK_THAT(svg, Catch::Contains("a &lt;model&gt; &amp; more"));
    CHECK_THAT(svg, Catch::Contains(">output size (KB)</text>"));
    CHECK_THAT(svg, Catch::Contains(">mean KL</text>"));
    CHECK_THAT(svg, Catch::Contains("class=\"legend\""));
    CHECK(svg.find("nan") == std::string::npos);
    CHECK(svg.find("inf") == std::string::npos);

    // Larger KL is drawn higher (smaller y); larger size further right.
    const auto a = start_of(pts[0]), b = start_of(pts[1]);  // rtn sorted by x: 154 then 186
    CHECK(a.first < b.first);
    CHECK(a.second < b.second);
}

TEST_CASE("bench plot: degenerate ranges give finite axes", "[pipeline][bench]") {
    Plot one;
    one.series.push_back({"rtn", {{100, 0, "", ""}}});
    const std::string s1 = pipeline::render_svg(one);
    CHECK(test::check_xml(s1).ok);
    CHECK(points_of(test::check_xml(s1)).size() == 1);
    CHECK(s1.find("nan") == std::string::npos);
    Plot close;  // two sizes a rounding error apart
    close.series.push_back({"rtn", {{5000.0, 0.1, "", ""}, {5000.0 + 1e-12, 0.2, "", ""}}});
    const std::string s2 = pipeline::render_svg(close);
    CHECK(points_of(test::check_xml(s2)).size() == 2);
    CHECK(s2.find("nan") == std::string::npos);
    Plot none;
    const std::string s0 = pipeline::render_svg(none);
    CHECK(test::check_xml(s0).ok);
    CHECK(points_of(test::check_xml(s0)).empty());
}

TEST_CASE("bench plot: the frontier of an accuracy report", "[pipeline][bench]") {
    pipeline::AccuracyBenchReport r;
    r.model = "/models/stories260K-hf/";
    auto point = [](std::string m, int bits, uint64_t bytes, double kl) {
        pipeline::AccuracyPoint p;
        p.method = std::move(m);
        p.bits = bits;
        p.output_bytes = bytes;
        p.mean_kl = kl;
        return p;
    };
    r.points = {point("rtn", 3, 154000, 0.7), point("rtn", 4, 186000, 0.11),
                point("awq", 3, 155000, 0.57), point("awq", 4, 187000, 0.09)};
    const Plot p = pipeline::frontier_plot(r);
    CHECK(p.title == "stories260K-hf: size against accuracy");
    CHECK(p.x_label == "output size (KB)");
    REQUIRE(p.series.size() == 2);
    CHECK(p.series[0].name == "rtn");
    CHECK(p.series[1].name == "awq");
    REQUIRE(p.series[1].points.size() == 2);
    CHECK(p.series[1].points[1].x == Approx(187.0));
    CHECK(p.series[1].points[1].y == Approx(0.09));
    CHECK(p.series[1].points[1].label == "4-bit");
    CHECK(p.y_log);  // 0.7 / 0.09 spans more than a factor of 5
    CHECK_THAT(p.y_label, Catch::EndsWith("log scale"));
    const std::string svg = pipeline::render_svg(p);
    REQUIRE(test::check_xml(svg).ok);
    CHECK(points_of(test::check_xml(svg)).size() == 4);
    CHECK_THAT(svg, Catch::Contains(">0.1</text>"));  // decade ticks 0.1, 0.2, 0.5
    CHECK_THAT(svg, Catch::Contains(">0.5</text>"));
    for (auto& q : r.points)
        q.mean_kl = 0.1;
    CHECK_FALSE(pipeline::frontier_plot(r).y_log);
    r.points[0].output_bytes = 2'000'000;
    CHECK(pipeline::frontier_plot(r).x_label == "output size (MB)");
}

TEST_CASE("bench plot: written atomically, replacing the old file, never an input",
          "[pipeline][bench]") {
    test::TempDir d;
    const fs::path out = d / "f.svg";
    test::write_text(out, "old");
    SUTRA_REQUIRE_OK(pipeline::write_svg("<svg/>\n", out, {}));
    const auto b = test::read_bytes(out);
    CHECK(std::string(b.begin(), b.end()) == "<svg/>\n");
    CHECK(test::listing(d.path()) == std::vector<std::string>{"f.svg"});  // no temporary left
    const fs::path in = d / "model.safetensors";
    test::write_text(in, "x");
    CHECK_FALSE(pipeline::write_svg("<svg/>\n", in, {in}).ok());
    CHECK(test::read_bytes(in).size() == 1);
}
