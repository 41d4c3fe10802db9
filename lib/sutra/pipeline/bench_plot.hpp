#pragma once
// `sutra bench --plot FILE.svg`: a small scatter-and-line chart drawn as a self-contained SVG
// 1.1 document (no script, no external font or style), and the accuracy frontier of an
// accuracy bench in it: output size (x) against mean KL (y), one series per method, one point
// per bit width: the trade-off a user picks a setting from.
#include <filesystem>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/pipeline/bench_accuracy.hpp"

namespace sutra::pipeline {

struct PlotPoint {
    double x = 0, y = 0;
    std::string label;    // drawn beside the marker ("4-bit"); may be empty
    std::string tooltip;  // the marker's <title>
};

struct PlotSeries {
    std::string name;  // the legend entry
    std::vector<PlotPoint> points;
};

struct Plot {
    std::string title, x_label, y_label;
    bool y_log = false;  // log10 y axis (ignored unless every finite y is > 0)
    std::vector<PlotSeries> series;
};

// The SVG document. Axes span the data (a linear y from 0), with round tick values (1, 2 and
// 5 times a power of ten on a log axis); each series has its colour and marker shape (8 and 4
// before they repeat), its points joined in x order. Every point is one element with
// class="point" and data-series="NAME"; a point label that would overlap one drawn before is
// left out; text is XML-escaped. Non-finite coordinates are left out (and are not points).
std::string render_svg(const Plot& plot);

// The frontier of `r`: x = output size in KB or MB (decimal, like the tables), y = mean KL,
// on a log axis when the largest KL is at least 5 times the smallest.
Plot frontier_plot(const AccuracyBenchReport& r);

// Writes `svg` to `dest` through a temporary file in its folder and a rename (io::OutputFile);
// an existing `dest` is replaced, one of `inputs` never is.
Status write_svg(const std::string& svg, const std::filesystem::path& dest,
                 const std::vector<std::filesystem::path>& inputs);

}  // namespace sutra::pipeline
