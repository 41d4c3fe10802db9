#include "cli_common.hpp"

#include <algorithm>
#include <cstdlib>

#include "sutra/model/matrix.hpp"
#include "sutra/model/qbin_weights.hpp"
#include "sutra/plan/method.hpp"
#include "sutra/simd/dispatch.hpp"

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

CLI::Validator choice_check(std::string what, std::vector<std::string> choices, bool list) {
    auto check = [what = std::move(what), choices = std::move(choices),
                  list](std::string& value) -> std::string {
        std::vector<std::string> items;
        if (list) {
            std::string cur;
            for (char c : value + ",") {
                if (c != ',') {
                    cur += c;
                } else if (!cur.empty()) {
                    items.push_back(cur);
                    cur.clear();
                }
            }
        } else {
            items.push_back(value);
        }
        for (const auto& v : items)
            if (std::find(choices.begin(), choices.end(), v) == choices.end())
                return plan::unknown_choice_error("", what, v, choices).message;
        return "";
    };
    return CLI::Validator(check, "", "choice");
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

int apply_isa(const GlobalOptions& g) {
    std::string isa = g.isa;
    if (isa.empty())
        if (const char* env = std::getenv("SUTRA_ISA")) isa = env;
    if (isa.empty()) return kExitOk;
    if (auto st = simd::set_isa(isa); !st.ok())
        return fail(Error{st.error().code,
                          (g.isa.empty() ? "SUTRA_ISA: " : "--isa: ") + st.error().message});
    return kExitOk;
}

void add_activations_flag(CLI::App& app, std::string& value) {
    app.add_option("--activations", value,
                   "Activations of the products with packed weights: q8 (8-bit blocks of 32, as "
                   "llama.cpp; default) or f32 (exact)")
        ->check(choice_check("activations", {"q8", "f32"}));
}

void apply_product_options(const GlobalOptions& g, const std::string& activations) {
    model::PackedProductOptions o = model::packed_product_options();
    o.threads = g.threads;
    if (!activations.empty())
        if (auto f = model::parse_activation_format(activations)) o.activations = *f;
    model::set_packed_product_options(o);
    model::QbinWeights::set_qbin_mapping(!g.no_mmap);
}

std::string version_text() {
    std::string avail;
    for (const auto& a : simd::available_isas())
        avail += (avail.empty() ? "" : ", ") + a;
    return std::string("sutra ") + SUTRA_VERSION + "\nkernels: " + simd::active().name +
           " (available: " + avail + "; choose with --isa or SUTRA_ISA)";
}

Result<uint64_t> parse_size(std::string_view text, std::string_view flag) {
    auto bad = [&] {
        return make_error(Errc::invalid_argument,
                          std::string(flag) +
                              " must be a size such as 512M, 2G or 1073741824, not \"" +
                              std::string(text) + "\"");
    };
    if (text.empty()) return bad();
    uint64_t v = 0;
    size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        if (v > (UINT64_MAX - 9) / 10) return bad();
        v = v * 10 + static_cast<uint64_t>(text[i] - '0');
    }
    if (i == 0) return bad();
    std::string_view suffix = text.substr(i);
    if (suffix.size() == 2 && (suffix[1] == 'B' || suffix[1] == 'b' || suffix[1] == 'i'))
        suffix = suffix.substr(0, 1);
    else if (suffix.size() == 3 && suffix.substr(1) == "iB")
        suffix = suffix.substr(0, 1);
    int shift = 0;
    if (suffix.empty())
        shift = 0;
    else if (suffix == "K" || suffix == "k")
        shift = 10;
    else if (suffix == "M" || suffix == "m")
        shift = 20;
    else if (suffix == "G" || suffix == "g")
        shift = 30;
    else if (suffix == "T" || suffix == "t")
        shift = 40;
    else
        return bad();
    if (shift && v > (UINT64_MAX >> shift)) return bad();
    return v << shift;
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

std::string shape_text(const std::vector<uint64_t>& s) {
    std::string t = "[";
    for (size_t i = 0; i < s.size(); ++i)
        t += (i ? ", " : "") + std::to_string(s[i]);
    return t + "]";
}

}  // namespace sutra::app
