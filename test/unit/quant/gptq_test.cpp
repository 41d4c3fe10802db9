// GPTQ (quant/gptq.hpp) against an independent numpy reference (test/reference/gptq_reference.py,
// written from the paper and the header, float64 throughout), plus properties that need no
// Python: thread-count independence, lower proxy loss than RTN, dead columns, act_order with
// static groups, errors, and HessianSum against a naive double accumulation.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/python.hpp"
#include "support/st_builder.hpp"
#include "sutra/base/half.hpp"
#include "sutra/quant/gptq.hpp"
#include "sutra/quant/rtn.hpp"

using namespace sutra;
using namespace sutra::quant;
namespace fs = std::filesystem;

namespace {

// W [rows, cols] ~ N(0, 0.02²) and calibration inputs X [n, cols] = Z·A scaled per channel:
// A = I + N(0, 1)/√cols mixes the channels (correlated inputs, where GPTQ's feedback pays),
// channel j is scaled by 10^(spread·u_j), u_j ~ U(-1, 1) (uneven magnitudes for act_order).
// Columns listed in `dead` never move (their inputs are 0).
struct Inputs {
    uint64_t rows = 0, cols = 0, n = 0;
    std::vector<float> w, x;
};

Inputs make_inputs(uint64_t rows, uint64_t cols, uint64_t n, double spread, uint32_t seed,
                   const std::vector<uint64_t>& dead = {}) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    Inputs in{rows, cols, n, std::vector<float>(rows * cols), std::vector<float>(n * cols)};
    for (auto& v : in.w)
        v = static_cast<float>(0.02 * g(rng));
    std::vector<double> a(cols * cols), mag(cols);
    for (uint64_t i = 0; i < cols; ++i)
        for (uint64_t j = 0; j < cols; ++j)
            a[i * cols + j] = (i == j ? 1.0 : 0.0) + g(rng) / std::sqrt(static_cast<double>(cols));
    for (auto& m : mag)
        m = std::pow(10.0, spread * u(rng));
    std::vector<double> z(cols);
    for (uint64_t s = 0; s < n; ++s) {
        for (auto& v : z)
            v = g(rng);
        for (uint64_t j = 0; j < cols; ++j) {
            double acc = 0;
            for (uint64_t i = 0; i < cols; ++i)
                acc += z[i] * a[i * cols + j];
            in.x[s * cols + j] = static_cast<float>(acc * mag[j]);
        }
    }
    for (uint64_t j : dead)
        for (uint64_t s = 0; s < n; ++s)
            in.x[s * cols + j] = 0.0f;
    return in;
}

HessianSum hessian(const Inputs& in) {
    HessianSum h(in.cols);
    h.add(in.x.data(), in.n, 1);
    return h;
}

GptqResult run_gptq(const Inputs& in, const HessianSum& h, int bits, uint32_t group,
                    const GptqOptions& opt, unsigned threads = 1) {
    auto f = gptq_factor(h, opt, "test.weight");
    INFO((f.ok() ? std::string() : f.error().message));
    REQUIRE(f.ok());
    const auto l = make_layout(in.rows, in.cols, bits, group);
    auto r = gptq_quantize(in.w, l, *f, "test.weight", threads);
    INFO((r.ok() ? std::string() : r.error().message));
    REQUIRE(r.ok());
    REQUIRE(r->codes.size() == l.rows * l.cols);
    REQUIRE(r->scales.size() == l.rows * l.n_groups);
    REQUIRE(r->zeros.size() == l.rows * l.n_groups);
    return std::move(r).value();
}

std::vector<float> decode(const std::vector<uint8_t>& codes, const std::vector<uint16_t>& scales,
                          const std::vector<uint8_t>& zeros, const QuantLayout& l) {
    std::vector<float> out(l.rows * l.cols);
    for (uint64_t r = 0; r < l.rows; ++r)
        dequantize_row(codes.data() + r * l.cols, scales.data() + r * l.n_groups,
                       zeros.data() + r * l.n_groups, l, out.data() + r * l.cols);
    return out;
}

// tr((W − Q) H (W − Q)ᵀ) in double: the layer's summed squared output error on the inputs.
double proxy_loss(const std::vector<float>& w, const std::vector<float>& q,
                  const std::vector<double>& h, uint64_t rows, uint64_t cols) {
    double total = 0;
    std::vector<double> d(cols);
    for (uint64_t r = 0; r < rows; ++r) {
        for (uint64_t j = 0; j < cols; ++j)
            d[j] = static_cast<double>(w[r * cols + j]) - static_cast<double>(q[r * cols + j]);
        for (uint64_t i = 0; i < cols; ++i) {
            double acc = 0;
            for (uint64_t j = 0; j < cols; ++j)
                acc += h[i * cols + j] * d[j];
            total += d[i] * acc;
        }
    }
    return total;
}

struct Rtn {
    std::vector<uint8_t> codes, zeros;
    std::vector<uint16_t> scales;
};

Rtn rtn(const std::vector<float>& w, const QuantLayout& l) {
    Rtn q{std::vector<uint8_t>(l.rows * l.cols), std::vector<uint8_t>(l.rows * l.n_groups),
          std::vector<uint16_t>(l.rows * l.n_groups)};
    for (uint64_t r = 0; r < l.rows; ++r) {
        size_t bad = 0;
        REQUIRE(quantize_row_rtn(w.data() + r * l.cols, l, q.codes.data() + r * l.cols,
                                 q.scales.data() + r * l.n_groups, q.zeros.data() + r * l.n_groups,
                                 &bad) == RowStatus::ok);
    }
    return q;
}

double rtn_loss(const Inputs& in, const HessianSum& h, int bits, uint32_t group) {
    const auto l = make_layout(in.rows, in.cols, bits, group);
    const auto q = rtn(in.w, l);
    return proxy_loss(in.w, decode(q.codes, q.scales, q.zeros, l), h.sum(), in.rows, in.cols);
}

double gptq_loss(const Inputs& in, const HessianSum& h, int bits, uint32_t group,
                 const GptqResult& r) {
    const auto l = make_layout(in.rows, in.cols, bits, group);
    return proxy_loss(in.w, decode(r.codes, r.scales, r.zeros, l), h.sum(), in.rows, in.cols);
}

template <class T>
test::Bytes as_bytes(const std::vector<T>& v) {
    test::Bytes b(v.size() * sizeof(T));
    if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
}

template <class T>
std::vector<T> from_bytes(const test::Bytes& b) {
    std::vector<T> v(b.size() / sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
    return v;
}

std::string num(double v) {
    std::ostringstream s;
    s.precision(17);
    s << v;
    return s.str();
}

// The numpy reference's codes, scales and zeros for W and H = h (run in `dir`).
Rtn run_reference(const std::string& python, const std::vector<float>& w,
                  const std::vector<double>& h, const QuantLayout& l, const GptqOptions& opt,
                  const fs::path& dir) {
    const fs::path wp = dir / "w.f32", hp = dir / "h.f64", out = dir / "out";
    test::write_bytes(wp, as_bytes(w));
    test::write_bytes(hp, as_bytes(h));
    const fs::path script = test::source_dir() / "test" / "reference" / "gptq_reference.py";
    std::vector<std::string> argv = {python,    script.string(),
                                     "--w",     wp.string(),
                                     "--h",     hp.string(),
                                     "--rows",  std::to_string(l.rows),
                                     "--cols",  std::to_string(l.cols),
                                     "--bits",  std::to_string(l.bits),
                                     "--group", std::to_string(l.group),
                                     "--damp",  num(opt.damp),
                                     "--block", std::to_string(opt.block),
                                     "--out",   out.string()};
    if (opt.act_order) argv.emplace_back("--act-order");
    test::TempDir logs;
    const int code = test::run_command(argv, logs.path());
    const test::Bytes err = test::read_bytes(logs / "stderr");
    INFO("gptq_reference.py: " << std::string(err.begin(), err.end()));
    REQUIRE(code == 0);
    Rtn r{test::read_bytes(out / "codes.u8"), test::read_bytes(out / "zeros.u8"),
          from_bytes<uint16_t>(test::read_bytes(out / "scales.f16"))};
    REQUIRE(r.codes.size() == l.rows * l.cols);
    REQUIRE(r.scales.size() == l.rows * l.n_groups);
    REQUIRE(r.zeros.size() == l.rows * l.n_groups);
    return r;
}

// Looked up once: every SECTION re-enters its test case.
std::string require_python() {
    static const auto python = test::python_with_numpy();
    if (!python)
        FAIL(
            "no python3 that imports numpy (tried $SUTRA_PYTHON, /usr/bin/python3, python3): "
            "scripts/bootstrap.sh installs python3-numpy");
    return *python;
}

}  // namespace

TEST_CASE("gptq: the numpy reference passes its own self-check", "[gptq]") {
    // H = I gives RTN; lazy blocks of 1, 7, 128 agree; the Cholesky form agrees with the
    // paper's explicit inverse-Hessian update; loss below RTN; act_order; dead columns; errors.
    const std::string python = require_python();
    const fs::path script = test::source_dir() / "test" / "reference" / "gptq_reference.py";
    test::TempDir logs;
    const int code = test::run_command({python, script.string(), "--self-check"}, logs.path());
    const test::Bytes out = test::read_bytes(logs / "stdout");
    const test::Bytes err = test::read_bytes(logs / "stderr");
    INFO(std::string(out.begin(), out.end()) << std::string(err.begin(), err.end()));
    CHECK(code == 0);
}

// Tolerances. sutra keeps W and U in float32 and the reference works in float64, so an update
// that lands within ~1e-7 (relative) of a rounding boundary can round the other way. After
// such a flip the row's later columns receive a different (one-step) error and some of them
// round differently too, but the two results stay equally good: the proxy loss must agree
// within 1%, and codes must be equal for >= 99.5% of the elements (a flip and its wake cost a
// few elements of one row; 0.5% of 48 x 256 is 61 elements, i.e. several independent flips).
// Scales and zero points: with act_order they come from the original weights and must be
// identical; without it a group's grid follows the updated weights and may change in a row
// that has diverged, so >= 99% of them must be equal (and, before a row diverges, differ by at
// most one F16 step). Measured when written: every code equal in every case; two scales one
// F16 step apart (a range that fell on an F16 rounding midpoint), losses equal to 6 digits.
TEST_CASE("gptq: codes, scales and loss agree with the numpy reference", "[gptq]") {
    const std::string python = require_python();
    struct Case {
        const char* name;
        uint64_t rows, cols, n;
        double spread;
        std::vector<uint64_t> dead;
        int bits;
        uint32_t group;
        bool act_order;
        uint64_t block;
    };
    const std::vector<Case> cases = {
        {"4-bit g64", 48, 256, 600, 0.5, {}, 4, 64, false, 128},
        {"4-bit g64 act_order", 48, 256, 600, 0.5, {}, 4, 64, true, 128},
        {"3-bit g32", 48, 256, 600, 0.5, {}, 3, 32, false, 128},
        {"3-bit g32 act_order", 48, 256, 600, 1.0, {}, 3, 32, true, 128},
        {"8-bit row", 32, 256, 600, 0.5, {}, 8, 0, false, 128},
        {"8-bit g32 act_order", 32, 256, 600, 0.5, {}, 8, 32, true, 128},
        {"4-bit row act_order", 32, 256, 600, 1.0, {}, 4, 0, true, 128},
        {"dead columns 4-bit g32", 40, 192, 800, 0.5, {0, 33, 100, 191}, 4, 32, false, 128},
        {"dead columns 3-bit g32 act_order",
         40,
         192,
         800,
         0.5,
         {0, 33, 100, 191},
         3,
         32,
         true,
         128},
        // cols 200: a ragged last group (200 = 3·64 + 8) and a ragged last block (128 + 72)
        {"ragged 3-bit g64", 40, 200, 800, 0.5, {}, 3, 64, false, 128},
        {"ragged 4-bit g64 act_order", 40, 200, 800, 0.5, {}, 4, 64, true, 128},
        // one column per block (no lazy batch), and one block for the whole row
        {"3-bit g32 block 1", 32, 200, 600, 0.5, {}, 3, 32, false, 1},
        {"4-bit g64 block 500 act_order", 32, 200, 600, 0.5, {}, 4, 64, true, 500},
        // groups straddling lazy blocks: group 48 with blocks of 40
        {"straddling 4-bit g48 block 40", 40, 200, 800, 0.5, {}, 4, 48, false, 40},
        {"straddling 4-bit g48 block 40 act_order", 40, 200, 800, 0.5, {}, 4, 48, true, 40},
    };
    uint32_t seed = 100;
    for (const auto& c : cases) {
        SECTION(c.name) {
            const Inputs in = make_inputs(c.rows, c.cols, c.n, c.spread, ++seed, c.dead);
            const HessianSum h = hessian(in);
            GptqOptions opt;
            opt.act_order = c.act_order;
            opt.block = c.block;
            const auto l = make_layout(c.rows, c.cols, c.bits, c.group);
            const GptqResult mine = run_gptq(in, h, c.bits, c.group, opt);
            test::TempDir dir;
            const Rtn ref = run_reference(python, in.w, h.sum(), l, opt, dir.path());

            size_t same = 0, first = SIZE_MAX;
            for (size_t i = 0; i < mine.codes.size(); ++i) {
                if (mine.codes[i] == ref.codes[i])
                    ++same;
                else if (first == SIZE_MAX)
                    first = i;
            }
            size_t same_s = 0, same_z = 0;
            std::string first_grid = "none";
            for (size_t i = 0; i < mine.scales.size(); ++i) {
                same_s += mine.scales[i] == ref.scales[i];
                same_z += mine.zeros[i] == ref.zeros[i];
                if ((mine.scales[i] != ref.scales[i] || mine.zeros[i] != ref.zeros[i]) &&
                    first_grid == "none")
                    first_grid = "row " + std::to_string(i / l.n_groups) + " group " +
                                 std::to_string(i % l.n_groups) + ": sutra scale " +
                                 num(f16_to_f32(mine.scales[i])) + " zero " +
                                 std::to_string(mine.zeros[i]) + ", reference scale " +
                                 num(f16_to_f32(ref.scales[i])) + " zero " +
                                 std::to_string(ref.zeros[i]);
            }
            const double lm = gptq_loss(in, h, c.bits, c.group, mine);
            const double lr = proxy_loss(in.w, decode(ref.codes, ref.scales, ref.zeros, l), h.sum(),
                                         c.rows, c.cols);
            const double frac = static_cast<double>(same) / static_cast<double>(mine.codes.size());
            INFO(c.name << ": codes equal " << same << "/" << mine.codes.size() << ", scales "
                        << same_s << "/" << mine.scales.size() << ", zeros " << same_z << "/"
                        << mine.zeros.size() << "; loss sutra " << lm << " reference " << lr
                        << " RTN " << rtn_loss(in, h, c.bits, c.group));
            std::string first_diff = "none";
            if (first != SIZE_MAX)
                first_diff = "row " + std::to_string(first / c.cols) + " column " +
                             std::to_string(first % c.cols) + ": sutra " +
                             std::to_string(mine.codes[first]) + ", reference " +
                             std::to_string(ref.codes[first]);
            INFO("first differing code: " << first_diff
                                          << "; first differing group: " << first_grid);
            CHECK(frac >= 0.995);
            // A group whose row has not diverged before it (all earlier codes equal) saw the
            // same weights up to rounding: its scale can only fall on the neighbouring F16 and
            // its zero point one step away.
            size_t far_grids = 0;
            for (uint64_t r = 0; r < c.rows; ++r)
                for (uint64_t g = 0; g < l.n_groups; ++g) {
                    const size_t k = r * l.n_groups + g;
                    if (mine.scales[k] == ref.scales[k] && mine.zeros[k] == ref.zeros[k]) continue;
                    const auto row0 = mine.codes.begin() + static_cast<std::ptrdiff_t>(r * c.cols);
                    const auto ref0 = ref.codes.begin() + static_cast<std::ptrdiff_t>(r * c.cols);
                    const auto before =
                        static_cast<std::ptrdiff_t>(c.act_order ? c.cols : g * l.group);
                    if (!std::equal(row0, row0 + before, ref0)) continue;
                    far_grids += std::abs(int(mine.scales[k]) - int(ref.scales[k])) > 1 ||
                                 std::abs(int(mine.zeros[k]) - int(ref.zeros[k])) > 1;
                }
            CHECK(far_grids == 0);
            CHECK(std::fabs(lm - lr) <= 0.01 * lr);
            if (c.act_order) {
                CHECK(same_s == mine.scales.size());
                CHECK(same_z == mine.zeros.size());
            } else {
                CHECK(static_cast<double>(same_s) >=
                      0.99 * static_cast<double>(mine.scales.size()));
                CHECK(static_cast<double>(same_z) >= 0.99 * static_cast<double>(mine.zeros.size()));
            }
        }
    }
}

TEST_CASE("gptq: with H = I there is no feedback and the result is RTN's", "[gptq]") {
    // H = I (one unit input per channel): H⁻¹ is diagonal, every update is 0, and the grids are
    // RTN's own, so codes, scales and zeros must be byte-identical to quantize_row_rtn.
    const uint64_t rows = 12, cols = 150;
    Inputs in = make_inputs(rows, cols, 1, 0.0, 7);
    in.n = cols;
    in.x.assign(cols * cols, 0.0f);
    for (uint64_t j = 0; j < cols; ++j)
        in.x[j * cols + j] = 1.0f;
    const HessianSum h = hessian(in);
    for (int bits : {3, 4, 8})
        for (uint32_t group : {0u, 32u, 64u})
            for (bool act : {false, true}) {
                GptqOptions opt;
                opt.act_order = act;
                const GptqResult r = run_gptq(in, h, bits, group, opt);
                const Rtn q = rtn(in.w, make_layout(rows, cols, bits, group));
                INFO("bits " << bits << " group " << group << " act_order " << act);
                CHECK(r.codes == q.codes);
                CHECK(r.scales == q.scales);
                CHECK(r.zeros == q.zeros);
            }
}

TEST_CASE("gptq: the result does not depend on the thread count", "[gptq]") {
    // 37 rows: not a multiple of any row block, so threads get unequal shares.
    const Inputs in = make_inputs(37, 160, 500, 0.5, 11, {5});
    const HessianSum h = hessian(in);
    for (bool act : {false, true}) {
        GptqOptions opt;
        opt.act_order = act;
        opt.block = 64;
        const GptqResult one = run_gptq(in, h, 4, 32, opt, 1);
        for (unsigned t : {2u, 3u}) {
            const GptqResult other = run_gptq(in, h, 4, 32, opt, t);
            INFO("threads " << t << " act_order " << act);
            CHECK(other.codes == one.codes);
            CHECK(other.scales == one.scales);
            CHECK(other.zeros == one.zeros);
        }
    }
}

TEST_CASE("gptq: proxy loss is below RTN's on correlated inputs", "[gptq]") {
    // On these inputs GPTQ reaches 0.5-0.6x RTN's loss (0.3-0.4x with act_order) when written;
    // 0.9x leaves room and still fails an implementation whose feedback does nothing useful.
    const Inputs in = make_inputs(32, 256, 1024, 0.5, 21);
    const HessianSum h = hessian(in);
    for (int bits : {3, 4, 8})
        for (uint32_t group : {0u, 32u, 128u})
            for (bool act : {false, true}) {
                GptqOptions opt;
                opt.act_order = act;
                const GptqResult r = run_gptq(in, h, bits, group, opt);
                const double lg = gptq_loss(in, h, bits, group, r);
                const double lr = rtn_loss(in, h, bits, group);
                INFO("bits " << bits << " group " << group << " act_order " << act << ": GPTQ "
                             << lg << " RTN " << lr);
                CHECK(std::isfinite(lg));
                CHECK(lg < 0.9 * lr);
            }
}

TEST_CASE("gptq: a dead column decodes to 0 and its weights change nothing", "[gptq]") {
    const std::vector<uint64_t> dead = {0, 17, 63, 95};
    Inputs in = make_inputs(16, 96, 400, 0.5, 31, dead);
    const HessianSum h = hessian(in);
    for (bool act : {false, true}) {
        GptqOptions opt;
        opt.act_order = act;
        const auto l = make_layout(in.rows, in.cols, 4, 32);
        const GptqResult r = run_gptq(in, h, 4, 32, opt);
        const auto f = gptq_factor(h, opt, "test.weight");
        REQUIRE(f.ok());
        for (uint64_t j = 0; j < in.cols; ++j)
            CHECK(f->dead[j] == (std::find(dead.begin(), dead.end(), j) != dead.end() ? 1 : 0));
        const auto q = decode(r.codes, r.scales, r.zeros, l);
        INFO("act_order " << act);
        for (float v : q)
            REQUIRE(std::isfinite(v));
        for (uint64_t row = 0; row < in.rows; ++row)
            for (uint64_t j : dead)
                CHECK(q[row * in.cols + j] == 0.0f);
        CHECK(gptq_dequantize(r, l) == q);
        // The dead columns' weights are replaced by 0 first: any other values give the same
        // result.
        Inputs other = in;
        for (uint64_t row = 0; row < in.rows; ++row)
            for (uint64_t j : dead)
                other.w[row * in.cols + j] = 0.5f * static_cast<float>(row + 1);
        const GptqResult r2 = run_gptq(other, h, 4, 32, opt);
        CHECK(r2.codes == r.codes);
        CHECK(r2.scales == r.scales);
        CHECK(r2.zeros == r.zeros);
    }
}

TEST_CASE("gptq: act_order visits by descending H_jj and keeps static, contiguous groups",
          "[gptq]") {
    // Channel magnitudes spread over 10^±1.5: the order matters.
    const Inputs in = make_inputs(32, 256, 1024, 1.5, 41, {77});
    const HessianSum h = hessian(in);
    const auto& s = h.sum();
    for (int bits : {3, 4})
        for (uint32_t group : {32u, 0u}) {
            GptqOptions plain, ordered;
            ordered.act_order = true;
            const auto f = gptq_factor(h, ordered, "test.weight");
            REQUIRE(f.ok());
            // The visiting order: stable descending H_jj, a dead column counting as H_jj = 1.
            std::vector<uint32_t> expect(in.cols);
            std::iota(expect.begin(), expect.end(), 0u);
            auto diag = [&](uint32_t j) {
                return s[j * in.cols + j] == 0 ? 1.0 : s[j * in.cols + j];
            };
            std::stable_sort(expect.begin(), expect.end(),
                             [&](uint32_t a, uint32_t b) { return diag(a) > diag(b); });
            CHECK(f->perm == expect);
            const auto fp = gptq_factor(h, plain, "test.weight");
            REQUIRE(fp.ok());
            for (uint32_t j = 0; j < in.cols; ++j)
                REQUIRE(fp->perm[j] == j);

            // Static groups: each stored group's scale and zero are RTN's on the original
            // (dead-zeroed) weights of that contiguous group.
            const auto l = make_layout(in.rows, in.cols, bits, group);
            const GptqResult r = run_gptq(in, h, bits, group, ordered);
            Inputs zeroed = in;
            for (uint64_t row = 0; row < in.rows; ++row)
                zeroed.w[row * in.cols + 77] = 0.0f;
            const Rtn q = rtn(zeroed.w, l);
            CHECK(r.scales == q.scales);
            CHECK(r.zeros == q.zeros);

            const double lo = gptq_loss(in, h, bits, group, r);
            const double lp = gptq_loss(in, h, bits, group, run_gptq(in, h, bits, group, plain));
            INFO("bits " << bits << " group " << group << ": act_order " << lo << ", plain " << lp);
            CHECK(lo < lp);
        }
}

TEST_CASE("gptq: a Hessian that is not positive definite is an error", "[gptq]") {
    // Four samples of all ones: H = 4·J, rank 1 with no zero diagonal (no dead column). The
    // Cholesky pivots after the first are exactly 0 in double, so without damping the
    // factorisation must fail; with damping it succeeds.
    const uint64_t cols = 8;
    HessianSum h(cols);
    const std::vector<float> ones(4 * cols, 1.0f);
    h.add(ones.data(), 4, 1);
    GptqOptions opt;
    opt.damp = 0.0;
    const auto f = gptq_factor(h, opt, "model.layers.0.mlp.up_proj.weight");
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().code == Errc::invalid_argument);
    INFO(f.error().message);
    CHECK(f.error().message.find("model.layers.0.mlp.up_proj.weight") != std::string::npos);
    CHECK(f.error().message.find("damp") != std::string::npos);

    opt.damp = 0.01;
    const auto g = gptq_factor(h, opt, "model.layers.0.mlp.up_proj.weight");
    REQUIRE(g.ok());
    for (float v : g->u)
        CHECK(std::isfinite(v));
}

TEST_CASE("gptq: a non-finite weight is an error naming the element", "[gptq]") {
    Inputs in = make_inputs(9, 40, 200, 0.5, 51);
    const HessianSum h = hessian(in);
    const auto f = gptq_factor(h, GptqOptions{}, "blk.w");
    REQUIRE(f.ok());
    const auto l = make_layout(in.rows, in.cols, 4, 16);
    for (float bad : {NAN, INFINITY}) {
        Inputs w = in;
        w.w[6 * in.cols + 13] = bad;  // row 6, column 13 (flat 253)
        const auto r = gptq_quantize(w.w, l, *f, "blk.w", 2);
        REQUIRE_FALSE(r.ok());
        const std::string& m = r.error().message;
        INFO(m);
        CHECK(m.find("blk.w") != std::string::npos);
        const bool names_it =
            m.find("253") != std::string::npos ||
            (m.find('6') != std::string::npos && m.find("13") != std::string::npos);
        CHECK(names_it);
    }
}

TEST_CASE("gptq: HessianSum equals a naive double accumulation", "[gptq]") {
    // 70 channels and 301 samples: no tile or thread split divides them evenly.
    const uint64_t cols = 70, n = 301;
    const Inputs in = make_inputs(1, cols, n, 1.0, 61);
    std::vector<double> naive(cols * cols, 0.0), bound(cols * cols, 0.0);
    for (uint64_t s = 0; s < n; ++s)
        for (uint64_t i = 0; i < cols; ++i)
            for (uint64_t j = 0; j < cols; ++j) {
                const double a = in.x[s * cols + i], b = in.x[s * cols + j];
                naive[i * cols + j] += a * b;
                bound[i * cols + j] += std::fabs(a * b);
            }
    // Products of f32 and partial sums in f32 (or better) over at most n terms: the standard
    // bound |error| <= (n + 1)·u·Σ|x_i x_j|, u = 2^-24.
    const double u32 = std::ldexp(1.0, -24);
    HessianSum one(cols);
    one.add(in.x.data(), n, 1);
    REQUIRE(one.cols() == cols);
    REQUIRE(one.samples() == n);
    REQUIRE(one.sum().size() == cols * cols);
    size_t over = 0;
    for (size_t k = 0; k < naive.size(); ++k)
        over += std::fabs(one.sum()[k] - naive[k]) > static_cast<double>(n + 1) * u32 * bound[k];
    CHECK(over == 0);
    for (uint64_t i = 0; i < cols; ++i)
        for (uint64_t j = 0; j < cols; ++j)
            REQUIRE(one.sum()[i * cols + j] == one.sum()[j * cols + i]);

    for (unsigned t : {2u, 3u}) {
        HessianSum other(cols);
        other.add(in.x.data(), n, t);
        INFO("threads " << t);
        CHECK(other.sum() == one.sum());
    }

    // Two calls accumulate: the same sum within the same bound, and the sample count adds up.
    HessianSum split(cols);
    split.add(in.x.data(), 137, 2);
    split.add(in.x.data() + 137 * cols, n - 137, 3);
    CHECK(split.samples() == n);
    over = 0;
    for (size_t k = 0; k < naive.size(); ++k)
        over += std::fabs(split.sum()[k] - naive[k]) > static_cast<double>(n + 1) * u32 * bound[k];
    CHECK(over == 0);
}

TEST_CASE("gptq: HessianSum is exact on small integers", "[gptq]") {
    // Integers in [-3, 3]: every product and partial sum is exact in f32 and double.
    const uint64_t cols = 45, n = 257;
    std::mt19937 rng(71);
    std::uniform_int_distribution<int> d(-3, 3);
    std::vector<float> x(n * cols);
    for (auto& v : x)
        v = static_cast<float>(d(rng));
    std::vector<double> naive(cols * cols, 0.0);
    for (uint64_t s = 0; s < n; ++s)
        for (uint64_t i = 0; i < cols; ++i)
            for (uint64_t j = 0; j < cols; ++j)
                naive[i * cols + j] +=
                    static_cast<double>(x[s * cols + i]) * static_cast<double>(x[s * cols + j]);
    for (unsigned t : {1u, 2u, 3u}) {
        HessianSum h(cols);
        h.add(x.data(), n, t);
        INFO("threads " << t);
        CHECK(h.sum() == naive);
    }
}
