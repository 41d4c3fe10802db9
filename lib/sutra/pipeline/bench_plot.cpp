#include "sutra/pipeline/bench_plot.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "sutra/io/output_file.hpp"

namespace sutra::pipeline {
namespace {

// Canvas and plot area, in SVG user units (pixels).
constexpr double kWidth = 720, kHeight = 440;
constexpr double kLeft = 78, kRight = 170, kTop = 44, kBottom = 62;
constexpr double kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;

// Okabe–Ito colours (distinguishable with the common colour-vision deficiencies).
constexpr std::array<const char*, 8> kColours = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                 "#E69F00", "#56B4E9", "#000000", "#999999"};

std::string esc(const std::string& s) {
    std::string o;
    for (char c : s) {
        switch (c) {
            case '&':
                o += "&amp;";
                break;
            case '<':
                o += "&lt;";
                break;
            case '>':
                o += "&gt;";
                break;
            case '"':
                o += "&quot;";
                break;
            case '\'':
                o += "&apos;";
                break;
            default:
                // Control characters are not allowed in XML 1.0 text.
                if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') o += c;
        }
    }
    return o;
}

std::string num(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", v);
    return b;
}

// A round step (1, 2 or 5 times a power of ten) giving about `target` intervals over `span`.
double nice_step(double span, int target) {
    const double raw = span / target;
    const double p = std::pow(10.0, std::floor(std::log10(raw)));
    const double f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

std::string tick_text(double v, double step) {
    const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
    char b[32];
    std::snprintf(b, sizeof b, "%.*f", decimals, std::abs(v) < step * 1e-6 ? 0.0 : v);
    return b;
}

struct Axis {
    double lo = 0, hi = 1;  // on a log axis: their log10
    bool log = false;
    std::vector<std::pair<double, std::string>> ticks;  // value, text
    double map(double v, double from, double to) const {
        const double t = log ? std::log10(v) : v;
        return from + (t - lo) / (hi - lo) * (to - from);
    }
};

// [lo, hi] widened to round ticks; from_zero keeps 0 as the lower end.
Axis linear_axis(double lo, double hi, bool from_zero) {
    if (from_zero) lo = std::min(lo, 0.0);
    if (!(hi - lo > 1e-9 * std::max(std::abs(lo), std::abs(hi)))) {  // one value (or nearly)
        const double pad = std::max(std::abs(hi) * 0.05, 1e-9);
        lo = from_zero ? lo : lo - pad;
        hi = hi + pad;
    } else if (!from_zero) {
        const double pad = (hi - lo) * 0.08;
        lo -= pad;
        hi += pad;
    } else {
        hi += (hi - lo) * 0.08;
    }
    Axis a;
    const double step = nice_step(hi - lo, 5);
    a.lo = from_zero && lo >= 0 ? 0.0 : std::floor(lo / step) * step;
    a.hi = std::ceil(hi / step) * step;
    const auto n = static_cast<int>(std::lround((a.hi - a.lo) / step));
    for (int i = 0; i <= std::min(n, 50); ++i)
        a.ticks.emplace_back(a.lo + i * step, tick_text(a.lo + i * step, step));
    return a;
}

// Decades around [lo, hi] (both > 0), ticks at 1, 2 and 5 times a power of ten.
Axis log_axis(double lo, double hi) {
    Axis a;
    a.log = true;
    a.lo = std::log10(lo) - 0.08;
    a.hi = std::log10(hi) + 0.08;
    for (int e = static_cast<int>(std::floor(a.lo)); e <= static_cast<int>(std::ceil(a.hi)); ++e)
        for (int m : {1, 2, 5}) {
            const double t = std::log10(m) + e;
            if (t < a.lo || t > a.hi) continue;
            const double v = std::pow(10.0, t);
            a.ticks.emplace_back(v, tick_text(v, std::pow(10.0, e)));
        }
    return a;
}

// A marker of shape `k` centred on (x, y) as path data.
std::string marker(size_t k, double x, double y) {
    const double r = 5;
    switch (k % 4) {
        case 0:  // circle
            return "M" + num(x - r) + "," + num(y) + "a" + num(r) + "," + num(r) + " 0 1,0 " +
                   num(2 * r) + ",0a" + num(r) + "," + num(r) + " 0 1,0 " + num(-2 * r) + ",0Z";
        case 1:  // square
            return "M" + num(x - r) + "," + num(y - r) + "h" + num(2 * r) + "v" + num(2 * r) + "h" +
                   num(-2 * r) + "Z";
        case 2:  // triangle
            return "M" + num(x) + "," + num(y - r * 1.2) + "L" + num(x + r * 1.1) + "," +
                   num(y + r * 0.8) + "L" + num(x - r * 1.1) + "," + num(y + r * 0.8) + "Z";
        default:  // diamond
            return "M" + num(x) + "," + num(y - r * 1.3) + "L" + num(x + r) + "," + num(y) + "L" +
                   num(x) + "," + num(y + r * 1.3) + "L" + num(x - r) + "," + num(y) + "Z";
    }
}

}  // namespace

std::string render_svg(const Plot& plot) {
    double xmin = HUGE_VAL, xmax = -HUGE_VAL, ymin = HUGE_VAL, ymax = -HUGE_VAL;
    for (const auto& s : plot.series)
        for (const auto& p : s.points) {
            if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
            xmin = std::min(xmin, p.x);
            xmax = std::max(xmax, p.x);
            ymin = std::min(ymin, p.y);
            ymax = std::max(ymax, p.y);
        }
    if (xmin > xmax) xmin = xmax = ymin = ymax = 0;  // no points: empty axes
    const bool ylog = plot.y_log && ymin > 0;
    const Axis ax = linear_axis(xmin, xmax, false);
    const Axis ay = ylog ? log_axis(ymin, ymax) : linear_axis(ymin, ymax, true);
    auto px = [&](double x) { return ax.map(x, kLeft, kLeft + kPlotW); };
    auto py = [&](double y) { return ay.map(y, kTop + kPlotH, kTop); };

    std::string o;
    o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    o += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + num(kWidth) +
         "\" height=\"" + num(kHeight) + "\" viewBox=\"0 0 " + num(kWidth) + " " + num(kHeight) +
         "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    o += "<title>" + esc(plot.title) + "</title>\n";
    o += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    o += "<text x=\"" + num(kLeft + kPlotW / 2) +
         "\" y=\"24\" text-anchor=\"middle\" "
         "font-size=\"14\" font-weight=\"bold\">" +
         esc(plot.title) + "</text>\n";

    // Grid, ticks and tick labels.
    o += "<g class=\"grid\" stroke=\"#dddddd\" stroke-width=\"1\">\n";
    std::string labels;
    for (const auto& [v, text] : ax.ticks) {
        const double x = px(v);
        o += "<line x1=\"" + num(x) + "\" y1=\"" + num(kTop) + "\" x2=\"" + num(x) + "\" y2=\"" +
             num(kTop + kPlotH) + "\"/>\n";
        labels += "<text x=\"" + num(x) + "\" y=\"" + num(kTop + kPlotH + 16) +
                  "\" text-anchor=\"middle\">" + text + "</text>\n";
    }
    for (const auto& [v, text] : ay.ticks) {
        const double y = py(v);
        o += "<line x1=\"" + num(kLeft) + "\" y1=\"" + num(y) + "\" x2=\"" + num(kLeft + kPlotW) +
             "\" y2=\"" + num(y) + "\"/>\n";
        labels += "<text x=\"" + num(kLeft - 6) + "\" y=\"" + num(y + 4) +
                  "\" text-anchor=\"end\">" + text + "</text>\n";
    }
    o += "</g>\n<g class=\"ticks\" fill=\"#333333\">\n" + labels + "</g>\n";
    o += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(kTop) + "\" width=\"" + num(kPlotW) +
         "\" height=\"" + num(kPlotH) + "\" fill=\"none\" stroke=\"#333333\"/>\n";
    o += "<text class=\"x-label\" x=\"" + num(kLeft + kPlotW / 2) + "\" y=\"" + num(kHeight - 18) +
         "\" text-anchor=\"middle\">" + esc(plot.x_label) + "</text>\n";
    o += "<text class=\"y-label\" transform=\"translate(20," + num(kTop + kPlotH / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + esc(plot.y_label) + "</text>\n";

    // Series: line, markers, point labels; then the legend.
    std::string legend = "<g class=\"legend\">\n";
    std::vector<std::pair<double, double>> placed;  // point labels drawn so far
    for (size_t k = 0; k < plot.series.size(); ++k) {
        const PlotSeries& s = plot.series[k];
        const std::string colour = kColours[k % kColours.size()];
        std::vector<PlotPoint> pts;
        for (const auto& p : s.points)
            if (std::isfinite(p.x) && std::isfinite(p.y)) pts.push_back(p);
        std::stable_sort(pts.begin(), pts.end(),
                         [](const PlotPoint& a, const PlotPoint& b) { return a.x < b.x; });
        o += "<g class=\"series\" data-series=\"" + esc(s.name) + "\" fill=\"" + colour +
             "\" stroke=\"" + colour + "\">\n";
        if (pts.size() > 1) {
            std::string d;
            for (const auto& p : pts)
                d += (d.empty() ? "" : " ") + num(px(p.x)) + "," + num(py(p.y));
            o += "<polyline fill=\"none\" stroke-width=\"1.5\" points=\"" + d + "\"/>\n";
        }
        for (const auto& p : pts) {
            o += "<path class=\"point\" data-series=\"" + esc(s.name) + "\" stroke=\"none\" d=\"" +
                 marker(k, px(p.x), py(p.y)) + "\"><title>" + esc(p.tooltip) + "</title></path>\n";
            // A label that would overlap one already drawn is left out (points of one bit
            // width often crowd together; the marker's title still says it).
            const double lx = px(p.x) + 7, ly = py(p.y) - 7;
            const bool crowded =
                std::any_of(placed.begin(), placed.end(), [&](const std::pair<double, double>& q) {
                    return std::abs(q.first - lx) < 40 && std::abs(q.second - ly) < 16;
                });
            if (!p.label.empty() && !crowded) {
                placed.emplace_back(lx, ly);
                o += "<text x=\"" + num(lx) + "\" y=\"" + num(ly) +
                     "\" stroke=\"none\" font-size=\"10\">" + esc(p.label) + "</text>\n";
            }
        }
        o += "</g>\n";
        const double ly = kTop + 12 + 20 * static_cast<double>(k);
        const double lx = kLeft + kPlotW + 16;
        legend += "<line x1=\"" + num(lx) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(lx + 24) +
                  "\" y2=\"" + num(ly) + "\" stroke=\"" + colour + "\" stroke-width=\"1.5\"/>\n";
        legend += "<path fill=\"" + colour + "\" d=\"" + marker(k, lx + 12, ly) + "\"/>\n";
        legend += "<text x=\"" + num(lx + 32) + "\" y=\"" + num(ly + 4) + "\">" + esc(s.name) +
                  "</text>\n";
    }
    o += legend + "</g>\n</svg>\n";
    return o;
}

Plot frontier_plot(const AccuracyBenchReport& r) {
    uint64_t most = 0;
    for (const auto& p : r.points)
        most = std::max(most, p.output_bytes);
    const bool mb = most >= 1'000'000;
    const double unit = mb ? 1e6 : 1e3;
    Plot plot;
    std::string model = r.model;
    while (model.size() > 1 && model.back() == '/')
        model.pop_back();
    plot.title = std::filesystem::path(model).filename().string() + ": size against accuracy";
    plot.x_label = std::string("output size (") + (mb ? "MB" : "KB") + ")";
    plot.y_label = "mean KL vs full precision (nats/token)";
    // KL spans orders of magnitude across bit widths: a log axis when it does.
    double lo = HUGE_VAL, hi = 0;
    for (const auto& p : r.points)
        if (std::isfinite(p.mean_kl)) {
            lo = std::min(lo, p.mean_kl);
            hi = std::max(hi, p.mean_kl);
        }
    plot.y_log = lo > 0 && hi >= 5 * lo;
    if (plot.y_log) plot.y_label += ", log scale";
    for (const auto& p : r.points) {
        auto it = std::find_if(plot.series.begin(), plot.series.end(),
                               [&](const PlotSeries& s) { return s.name == p.method; });
        if (it == plot.series.end()) {
            plot.series.push_back({p.method, {}});
            it = plot.series.end() - 1;
        }
        PlotPoint q;
        q.x = static_cast<double>(p.output_bytes) / unit;
        q.y = p.mean_kl;
        q.label = p.bits ? std::to_string(p.bits) + "-bit" : "";
        char tip[128];
        std::snprintf(tip, sizeof tip, ": %.1f %s, mean KL %.4f, perplexity %.4f", q.x,
                      mb ? "MB" : "KB", p.mean_kl, p.perplexity);
        q.tooltip = p.method + (q.label.empty() ? "" : " " + q.label) + tip;
        it->points.push_back(std::move(q));
    }
    return plot;
}

Status write_svg(const std::string& svg, const std::filesystem::path& dest,
                 const std::vector<std::filesystem::path>& inputs) {
    SUTRA_ASSIGN(io::OutputFile out, io::OutputFile::create(dest, true, inputs));
    SUTRA_TRY(out.write_at(0, {reinterpret_cast<const uint8_t*>(svg.data()), svg.size()}));
    return out.commit();
}

}  // namespace sutra::pipeline
