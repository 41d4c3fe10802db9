// Products with packed weights (model/matrix.hpp) on the packed kernels: the same bits for 1,
// 2 and 3 threads; the q8 and f32 activation paths against a naive double-precision product of
// the documented decoding; q8 results independent of how many rows are multiplied at once; and
// each family's .qbin run with q8 activations against its weights dequantized into a
// checkpoint.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "support/cli_run.hpp"
#include "support/fixtures.hpp"
#include "support/paths.hpp"
#include "sutra/base/half.hpp"
#include "sutra/model/blas.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/matrix.hpp"
#include "sutra/model/model_source.hpp"
#include "sutra/quant/layout.hpp"
#include "sutra/quant/rtn.hpp"
#include "sutra/simd/dispatch.hpp"
#include "sutra/simd/kernels.hpp"
#include "unit/model/model_test_support.hpp"

using namespace sutra;
namespace fs = std::filesystem;

namespace {

// Sets the packed-product options for a scope.
class ProductOptions {
  public:
    explicit ProductOptions(model::ActivationFormat a, unsigned threads = 1,
                            int64_t f32_sgemm_rows = 8)
        : saved_(model::packed_product_options()) {
        model::PackedProductOptions o;
        o.activations = a;
        o.threads = threads;
        o.f32_sgemm_rows = f32_sgemm_rows;
        model::set_packed_product_options(o);
    }
    ~ProductOptions() { model::set_packed_product_options(saved_); }
    ProductOptions(const ProductOptions&) = delete;
    ProductOptions& operator=(const ProductOptions&) = delete;

  private:
    model::PackedProductOptions saved_;
};

// W [rows, cols] quantized by RTN into the stored layout.
std::shared_ptr<const quant::PackedMatrix> pack(const std::vector<float>& w, uint64_t rows,
                                                uint64_t cols, int bits, uint32_t group) {
    const quant::QuantLayout l = quant::make_layout(rows, cols, bits, group);
    std::vector<uint8_t> pc(rows * l.row_code_bytes, 0), pz(rows * l.row_zero_bytes, 0);
    std::vector<uint16_t> ps(rows * l.n_groups, 0);
    std::vector<uint8_t> codes(cols), zeros(l.n_groups);
    for (uint64_t r = 0; r < rows; ++r) {
        size_t bad = 0;
        REQUIRE(quant::quantize_row_rtn(w.data() + r * cols, l, codes.data(),
                                        ps.data() + r * l.n_groups, zeros.data(),
                                        &bad) == quant::RowStatus::ok);
        quant::pack_codes(codes.data(), cols, bits, pc.data() + r * l.row_code_bytes);
        quant::pack_codes(zeros.data(), l.n_groups, bits, pz.data() + r * l.row_zero_bytes);
    }
    return std::make_shared<const quant::PackedMatrix>(
        quant::PackedMatrix::owning(l, std::move(pc), std::move(ps), std::move(pz)));
}

// Weight (r, c) by the documented decoding: (code - zero) * scale, from the stored bytes.
double weight(const quant::PackedMatrix& p, uint64_t r, uint64_t c) {
    const quant::QuantLayout& l = p.layout;
    std::vector<uint8_t> codes(l.cols), zeros(l.n_groups);
    quant::unpack_codes(p.codes.data() + r * l.row_code_bytes, l.cols, l.bits, codes.data());
    quant::unpack_codes(p.zeros.data() + r * l.row_zero_bytes, l.n_groups, l.bits, zeros.data());
    const uint64_t g = c / l.group;
    return (double(codes[c]) - double(zeros[g])) * double(f16_to_f32(p.scales[r * l.n_groups + g]));
}

std::vector<float> product(const std::vector<float>& x, int64_t rows, int64_t in,
                           const model::Matrix& m, int64_t out) {
    std::vector<float> y(static_cast<size_t>(rows * out), NAN);
    const model::SingleThreadedBlas single;
    model::matmul_wt(x.data(), rows, in, m, out, y.data());
    return y;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct Case {
    int64_t out, in;
    int bits;
    uint32_t group;
};

// 150 and 37 output rows: several blocks of 16 and a partial one. in 100 and 172: groups that
// are not whole Q8 blocks (the f32 kernel in q8 mode).
const Case kCases[] = {{150, 256, 4, 128}, {37, 512, 4, 32}, {150, 320, 3, 64}, {64, 256, 8, 0},
                       {150, 100, 4, 32},  {37, 172, 4, 32}, {40, 544, 4, 128}, {33, 96, 3, 32}};

}  // namespace

TEST_CASE("packed matmul: 1, 2 and 3 threads give the same bits", "[matrix][packed]") {
    for (const Case& c : kCases) {
        const auto p = pack(test::noise(static_cast<size_t>(c.out * c.in), 3), uint64_t(c.out),
                            uint64_t(c.in), c.bits, c.group);
        const model::Matrix m(p);
        for (int64_t rows : {1, 7, 70}) {  // 70: more than one block of 64 activation rows
            const std::vector<float> x = test::noise(static_cast<size_t>(rows * c.in), 8);
            for (auto a : {model::ActivationFormat::q8, model::ActivationFormat::f32}) {
                INFO(c.out << "x" << c.in << ", " << c.bits << " bits, group " << c.group << ", "
                           << rows << " rows, " << model::activation_format_name(a));
                std::vector<float> one;
                {
                    const ProductOptions o(a, 1);
                    one = product(x, rows, c.in, m, c.out);
                }
                for (unsigned threads : {2u, 3u}) {
                    const ProductOptions o(a, threads);
                    CHECK(same_bits(product(x, rows, c.in, m, c.out), one));
                }
            }
        }
    }
}

TEST_CASE("packed matmul: q8 and f32 activations against a double-precision product",
          "[matrix][packed]") {
    // f32: the kernel's (or sgemm's) f32 sums, within 1e-5 of the sum of the terms' magnitudes.
    // q8: each activation is off by at most d/2 (d = its block's max|x| / 127), so the product
    // is off by at most sum |w| d / 2, plus the same f32 rounding allowance.
    for (const Case& c : kCases) {
        const auto p = pack(test::noise(static_cast<size_t>(c.out * c.in), 5), uint64_t(c.out),
                            uint64_t(c.in), c.bits, c.group);
        const model::Matrix m(p);
        const bool q8_layout = c.in % 32 == 0 && p->layout.group % 32 == 0;
        for (int64_t rows : {1, 3, 12}) {  // 12: the sgemm tiles of the f32 path
            std::vector<float> x = test::noise(static_cast<size_t>(rows * c.in), 9);
            for (int64_t j = 0; j < std::min<int64_t>(c.in, 32); ++j)
                x[static_cast<size_t>(j)] = 0.0f;  // a zero block
            std::vector<float> yq, yf;
            {
                const ProductOptions o(model::ActivationFormat::q8, 2);
                yq = product(x, rows, c.in, m, c.out);
            }
            {
                const ProductOptions o(model::ActivationFormat::f32, 2);
                yf = product(x, rows, c.in, m, c.out);
            }
            double worst_f = 0, worst_q = 0;
            for (int64_t r = 0; r < rows; ++r) {
                std::vector<double> dblock(static_cast<size_t>(c.in / 32 + 1), 0.0);
                for (int64_t j = 0; j < c.in; ++j)
                    dblock[static_cast<size_t>(j / 32)] =
                        std::max(dblock[static_cast<size_t>(j / 32)],
                                 std::fabs(double(x[static_cast<size_t>(r * c.in + j)])) / 127);
                for (int64_t o = 0; o < c.out; ++o) {
                    double e = 0, mag = 0, bound = 0;
                    for (int64_t j = 0; j < c.in; ++j) {
                        const double wv = weight(*p, uint64_t(o), uint64_t(j));
                        const double xv = x[static_cast<size_t>(r * c.in + j)];
                        e += wv * xv;
                        mag += std::fabs(wv * xv);
                        bound += std::fabs(wv) * dblock[static_cast<size_t>(j / 32)] / 2;
                    }
                    const auto k = static_cast<size_t>(r * c.out + o);
                    worst_f = std::max(worst_f, std::fabs(double(yf[k]) - e) / (mag + 1e-30));
                    const double allowed = (q8_layout ? bound : 0.0) + 1e-5 * mag + 1e-30;
                    worst_q = std::max(worst_q, std::fabs(double(yq[k]) - e) / allowed);
                }
            }
            INFO(c.out << "x" << c.in << ", " << c.bits << " bits, group " << c.group << ", "
                       << rows << " rows");
            CHECK(worst_f < 1e-5);
            CHECK(worst_q <= 1.0);
        }
    }
}

TEST_CASE("packed matmul: a q8 row's result does not depend on the rows beside it",
          "[matrix][packed]") {
    const Case c{70, 256, 4, 64};
    const auto p = pack(test::noise(static_cast<size_t>(c.out * c.in), 6), uint64_t(c.out),
                        uint64_t(c.in), c.bits, c.group);
    const model::Matrix m(p);
    const int64_t rows = 67;
    const std::vector<float> x = test::noise(static_cast<size_t>(rows * c.in), 10);
    const ProductOptions o(model::ActivationFormat::q8, 2);
    const std::vector<float> all = product(x, rows, c.in, m, c.out);
    for (int64_t r : {0, 1, 63, 64, 66}) {
        const std::vector<float> xr(x.begin() + r * c.in, x.begin() + (r + 1) * c.in);
        const std::vector<float> one = product(xr, 1, c.in, m, c.out);
        const std::vector<float> row(all.begin() + r * c.out, all.begin() + (r + 1) * c.out);
        CHECK(same_bits(one, row));
    }
}

TEST_CASE("packed matmul: activation format names", "[matrix][packed]") {
    CHECK(model::parse_activation_format("q8").value() == model::ActivationFormat::q8);
    CHECK(model::parse_activation_format("f32").value() == model::ActivationFormat::f32);
    const auto bad = model::parse_activation_format("f16");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("q8, f32") != std::string::npos);
    CHECK(std::string(model::activation_format_name(model::ActivationFormat::f32)) == "f32");
}

namespace {

std::vector<float> logits_of(const fs::path& path, const std::optional<fs::path>& dir,
                             const std::vector<int32_t>& tokens) {
    auto src = model::open_model(path, dir);
    REQUIRE(src.ok());
    model::ModelOptions o;
    o.keep_weights = true;
    auto m = model::open_runtime(src.value(), o);
    REQUIRE(m.ok());
    auto l = model::forward(*m.value(), tokens);
    REQUIRE(l.ok());
    return l.value();
}

}  // namespace

TEST_CASE("packed matmul: each family's .qbin with q8 activations stays near its decoded weights",
          "[matrix][packed][shared]") {
    const fs::path models = test::model::models_dir();
    struct Family {
        const char* name;
        fs::path model;
    };
    const Family families[] = {
        {"llama", models / "stories260K-hf"},
        {"rwkv-4", models / "tiny-rwkv" / "tiny-rwkv-4v0-660K.safetensors"},
        {"rwkv-7", models / "tiny-rwkv" / "tiny-rwkv-7v0-834K.safetensors"},
        {"mamba", models / "tiny-mamba"},
    };
    const std::vector<int32_t> tokens = {1, 65, 200, 17, 100, 99, 42, 7};
    for (const Family& f : families) {
        INFO(f.name);
        test::TempDir tmp;
        const fs::path qbin = tmp / "m.qbin", deq = tmp / "m.safetensors";
        REQUIRE(test::run_sutra({"-q", "quantize", f.model.string(), "-o", qbin.string(), "--bits",
                                 "4", "--group-size", "32"})
                    .code == 0);
        REQUIRE(test::run_sutra({"-q", "dequantize", qbin.string(), "-o", deq.string()}).code == 0);
        const std::optional<fs::path> dir =
            fs::is_directory(f.model) ? std::optional<fs::path>(f.model) : std::nullopt;
        const auto original = logits_of(f.model, std::nullopt, tokens);
        const auto decoded = logits_of(deq, dir, tokens);
        std::vector<float> q8, f32;
        {
            const ProductOptions o(model::ActivationFormat::q8, 2);
            q8 = logits_of(qbin, std::nullopt, tokens);
        }
        {
            const ProductOptions o(model::ActivationFormat::f32, 2);
            f32 = logits_of(qbin, std::nullopt, tokens);
        }
        // With f32 activations the .qbin is its decoded weights, to f32 rounding. Q8
        // activations add an error of their own (each activation within half a step of 1/127
        // of its block's largest); it must stay a small part of what the 4-bit weights already
        // cost: at most 20% of their largest logit change (measured: 6-9% on these four). A
        // kernel that decodes wrongly costs as much as the weights or more.
        const double weights_cost = test::model::max_abs_diff(decoded, original);
        const double q8_cost = test::model::max_abs_diff(q8, decoded);
        INFO("4-bit weights move the logits by up to " << weights_cost << ", q8 activations by "
                                                       << q8_cost);
        CHECK(weights_cost > 0.01);
        CHECK(q8_cost > 0);  // the q8 path did run
        CHECK(q8_cost < 0.2 * weights_cost);
        CHECK(test::model::max_abs_diff(f32, decoded) < 1e-4);
    }
}

namespace {

// The linears of one block of the 1B shape (TinyLlama-1.1B: hidden 2048, 4 KV heads of 64,
// intermediate 5632) as [out, in].
const int64_t kLayerShapes[][2] = {{2048, 2048}, {256, 2048},  {256, 2048}, {2048, 2048},
                                   {5632, 2048}, {5632, 2048}, {2048, 5632}};

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

// Figures, not a test: `sutra_tests "[packed-bench]"`. Wall time per pass over `layers` copies
// of one block's linears (more bytes than the CPU caches hold, as a model's weights are),
// medians of 5 runs after one warm-up, for F32 weights through sgemm and 4-bit g128 packed
// weights on each path, 1 and 2 threads.
TEST_CASE("packed matmul: speed of the paths on the 1B shape", "[.bench][packed-bench]") {
    struct Layer {
        std::vector<model::Matrix> f32, q4;
    };
    const int layers_q4 = 8, layers_f32 = 2;
    std::vector<Layer> layers(layers_q4);
    for (int l = 0; l < layers_q4; ++l)
        for (const auto& s : kLayerShapes) {
            const auto w = test::noise(static_cast<size_t>(s[0] * s[1]), uint32_t(100 + l));
            layers[size_t(l)].q4.emplace_back(pack(w, uint64_t(s[0]), uint64_t(s[1]), 4, 128));
            if (l < layers_f32) layers[size_t(l)].f32.emplace_back(w);
        }
    const auto time_pass = [&](bool f32, int64_t rows, int n_layers) {
        const std::vector<float> x = test::noise(static_cast<size_t>(rows * 5632), 1);
        std::vector<float> y(static_cast<size_t>(rows * 5632));
        const model::SingleThreadedBlas single;
        std::vector<double> t;
        for (int run = 0; run < 6; ++run) {
            const auto t0 = std::chrono::steady_clock::now();
            for (int l = 0; l < n_layers; ++l)
                for (size_t k = 0; k < 7; ++k) {
                    const auto& m = f32 ? layers[size_t(l)].f32[k] : layers[size_t(l)].q4[k];
                    model::matmul_wt(x.data(), rows, kLayerShapes[k][1], m, kLayerShapes[k][0],
                                     y.data());
                }
            if (run > 0)
                t.push_back(
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                    n_layers);
        }
        return median_of(t);
    };
    double macs = 0, q4_bytes = 0;
    for (size_t k = 0; k < 7; ++k) {
        macs += double(kLayerShapes[k][0] * kLayerShapes[k][1]);
        q4_bytes += double(layers[0].q4[k].bytes());
    }
    std::printf("one block of the 1B shape: %.1f M weights, F32 %.1f MB, 4-bit g128 %.1f MB\n",
                macs / 1e6, macs * 4 / 1e6, q4_bytes / 1e6);
    std::printf("%-28s %5s %8s %12s %10s %10s\n", "path", "rows", "threads", "ms/block", "GMAC/s",
                "GB/s");
    struct Path {
        const char* name;
        bool f32_weights;
        model::ActivationFormat act;
        int64_t sgemm_rows;
    };
    const Path paths[] = {
        {"f32 weights, sgemm", true, model::ActivationFormat::f32, 8},
        {"q4, q8 activations (kernel)", false, model::ActivationFormat::q8, 8},
        {"q4, f32 activations (kernel)", false, model::ActivationFormat::f32, 1 << 30},
        {"q4, decode tiles + sgemm", false, model::ActivationFormat::f32, 1},
    };
    std::vector<int64_t> row_counts = {1, 16, 512};
    if (const char* env = std::getenv("SUTRA_BENCH_ROWS")) row_counts = {std::atoll(env)};
    for (int64_t rows : row_counts) {
        for (const Path& p : paths) {
            if (const char* env = std::getenv("SUTRA_BENCH_PATH");
                env && std::string(env) != p.name)
                continue;
            if (rows == 512 && p.sgemm_rows == (1 << 30)) continue;  // too slow to matter
            for (unsigned threads : {1u, 2u}) {
                if (p.f32_weights && threads == 2) continue;  // sgemm runs single-threaded
                const ProductOptions o(p.act, threads, p.sgemm_rows);
                const int n = rows == 1 ? (p.f32_weights ? layers_f32 : layers_q4) : 1;
                const double s = time_pass(p.f32_weights, rows, n);
                const double bytes = p.f32_weights ? macs * 4 : q4_bytes;
                std::printf("%-28s %5lld %8u %12.2f %10.1f %10.1f\n", p.name,
                            static_cast<long long>(rows), threads, s * 1e3,
                            macs * double(rows) / s / 1e9, bytes / s / 1e9);
            }
        }
    }
}
