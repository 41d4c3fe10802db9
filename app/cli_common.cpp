#include "cli_common.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace sutra::app {

std::string one_line(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

int fail(const Error& e) {
    spdlog::error("{}", one_line(e.message));
    return kExitError;
}

std::string human_bytes(uint64_t n) {
    const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1000.0 && u < 4) {
        v /= 1000.0;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    else
        std::snprintf(buf, sizeof buf, "%.*f %s", v < 10 ? 2 : (v < 100 ? 1 : 0), v, units[u]);
    return buf;
}

std::string fixed(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

namespace {

class TerminalProgress final : public pipeline::ProgressObserver {
  public:
    void on_stage(std::string_view stage, uint64_t total) override {
        stage_ = std::string(stage);
        total_ = total;
        last_ = {};
        draw("", 0, true);
    }
    void on_progress(std::string_view name, uint64_t done) override { draw(name, done, false); }
    void on_stage_end() override {
        if (drawn_) std::fputs("\r\033[K", stderr);
        drawn_ = false;
    }

  private:
    void draw(std::string_view name, uint64_t done, bool force) {
        const auto now = std::chrono::steady_clock::now();
        if (!force && now - last_ < std::chrono::milliseconds(100) && done < total_) return;
        last_ = now;
        const double f = total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
        const int width = 30;
        const int fill = static_cast<int>(f * width);
        std::string bar(static_cast<size_t>(fill), '#');
        bar.resize(width, '.');
        std::string n(name.substr(0, 48));
        std::fprintf(stderr, "\r\033[K%s [%s] %3d%% %s", stage_.c_str(), bar.c_str(),
                     static_cast<int>(f * 100), n.c_str());
        std::fflush(stderr);
        drawn_ = true;
    }
    std::string stage_;
    uint64_t total_ = 0;
    std::chrono::steady_clock::time_point last_{};
    bool drawn_ = false;
};

}  // namespace

std::unique_ptr<pipeline::ProgressObserver> make_progress(const GlobalOptions& g) {
    if (g.quiet || !::isatty(STDERR_FILENO)) return nullptr;
    return std::make_unique<TerminalProgress>();
}

}  // namespace sutra::app
