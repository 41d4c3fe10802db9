// Packed weights in the forward pass (model/matrix.hpp): the product with a packed matrix
// against a naive double-precision product with the scalar reference's dequantized weights,
// for every bit width and group shape sutra writes; and a .qbin run by each family holding its
// linears packed, giving the logits of the same weights dequantized into a checkpoint; the
// packed weights used in place in a mapping of the .qbin, the same bits as read ones.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <memory>
#include <vector>

#include "support/cli_run.hpp"
#include "support/fixtures.hpp"
#include "support/paths.hpp"
#include "sutra/format/qbin_reader.hpp"
#include "sutra/model/blas.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/matrix.hpp"
#include "sutra/model/model_source.hpp"
#include "sutra/model/qbin_weights.hpp"
#include "sutra/quant/layout.hpp"
#include "sutra/quant/rtn.hpp"
#include "sutra/simd/dispatch.hpp"
#include "unit/model/model_test_support.hpp"

using namespace sutra;
namespace fs = std::filesystem;

namespace {

// W [rows, cols] quantized by RTN into the stored layout; `dequantized` gets the reference
// decoding of every row.
quant::PackedMatrix pack(const std::vector<float>& w, uint64_t rows, uint64_t cols, int bits,
                         uint32_t group, std::vector<float>& dequantized) {
    const quant::QuantLayout l = quant::make_layout(rows, cols, bits, group);
    std::vector<uint8_t> pc(rows * l.row_code_bytes, 0), pz(rows * l.row_zero_bytes, 0);
    std::vector<uint16_t> ps(rows * l.n_groups, 0);
    dequantized.assign(rows * cols, 0.0f);
    std::vector<uint8_t> codes(cols), zeros(l.n_groups);
    for (uint64_t r = 0; r < rows; ++r) {
        size_t bad = 0;
        REQUIRE(quant::quantize_row_rtn(w.data() + r * cols, l, codes.data(),
                                        ps.data() + r * l.n_groups, zeros.data(),
                                        &bad) == quant::RowStatus::ok);
        quant::pack_codes(codes.data(), cols, bits, pc.data() + r * l.row_code_bytes);
        quant::pack_codes(zeros.data(), l.n_groups, bits, pz.data() + r * l.row_zero_bytes);
        quant::dequantize_row(codes.data(), ps.data() + r * l.n_groups, zeros.data(), l,
                              dequantized.data() + r * cols);
    }
    return quant::PackedMatrix::owning(l, std::move(pc), std::move(ps), std::move(pz));
}

}  // namespace

TEST_CASE("matrix: the product with packed weights is the product with their decoding",
          "[matrix]") {
    const int64_t out = 150, in = 100;  // 150 rows: two full tiles of 64 and a tail
    const std::vector<float> w = test::noise(static_cast<size_t>(out * in), 11);
    for (int bits : {3, 4, 8}) {
        for (uint32_t group : {32u, 0u, 64u}) {  // 64: a ragged last group of 36
            std::vector<float> deq;
            auto p = std::make_shared<const quant::PackedMatrix>(
                pack(w, static_cast<uint64_t>(out), static_cast<uint64_t>(in), bits, group, deq));
            REQUIRE(p->consistent());
            const model::Matrix m(p);
            CHECK(m.empty());  // nothing dequantized is kept
            CHECK(m.numel() == static_cast<uint64_t>(out * in));
            CHECK(m.bytes() < static_cast<uint64_t>(out * in) * sizeof(float) / 3);
            for (int64_t rows : {1, 7}) {
                INFO("bits " << bits << ", group " << group << ", rows " << rows);
                const std::vector<float> x = test::noise(static_cast<size_t>(rows * in), 5);
                std::vector<float> y(static_cast<size_t>(rows * out), NAN);
                {
                    const model::SingleThreadedBlas single;
                    model::matmul_wt(x.data(), rows, in, m, out, y.data());
                }
                double worst = 0;
                for (int64_t r = 0; r < rows; ++r) {
                    for (int64_t o = 0; o < out; ++o) {
                        double ref = 0, mag = 0;
                        for (int64_t j = 0; j < in; ++j) {
                            const double a = x[static_cast<size_t>(r * in + j)];
                            const double b = deq[static_cast<size_t>(o * in + j)];
                            ref += a * b;
                            mag += std::fabs(a * b);
                        }
                        const double err = std::fabs(
                            static_cast<double>(y[static_cast<size_t>(r * out + o)]) - ref);
                        worst = std::max(worst, err / (mag + 1e-30));
                    }
                }
                CHECK(worst < 1e-6);
            }
        }
    }
}

namespace {

// logits of `tokens` through `path` (a checkpoint folder or a .qbin) with kept weights.
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

TEST_CASE("matrix: a .qbin runs on packed linears and gives its decoded weights' logits",
          "[matrix][shared]") {
    const fs::path models = test::model::models_dir();
    struct Case {
        const char* name;
        fs::path model;
        const char* linear;  // a block linear's tensor
    };
    const Case cases[] = {
        {"llama", models / "stories260K-hf", "model.layers.1.mlp.down_proj.weight"},
        {"rwkv-4", models / "tiny-rwkv" / "tiny-rwkv-4v0-660K.safetensors",
         "blocks.1.att.key.weight"},
        {"rwkv-7", models / "tiny-rwkv" / "tiny-rwkv-7v0-834K.safetensors",
         "blocks.1.att.key.weight"},
        {"mamba", models / "tiny-mamba", "backbone.layers.1.mixer.in_proj.weight"},
    };
    const std::vector<int32_t> tokens = {1, 65, 200, 17, 100, 99, 42, 7};
    // Exact (f32) activations, so the .qbin is its decoded weights to f32 rounding; the default
    // q8 activations are compared in packed_matmul_test.cpp.
    struct F32Activations {
        model::PackedProductOptions saved = model::packed_product_options();
        F32Activations() {
            model::PackedProductOptions o = saved;
            o.activations = model::ActivationFormat::f32;
            model::set_packed_product_options(o);
        }
        ~F32Activations() { model::set_packed_product_options(saved); }
    } f32_activations;
    for (const Case& c : cases) {
        INFO(c.name);
        test::TempDir tmp;
        const fs::path qbin = tmp / "m.qbin", deq = tmp / "m.safetensors";
        const test::CliRun q =
            test::run_sutra({"-q", "quantize", c.model.string(), "-o", qbin.string(), "--bits", "4",
                             "--group-size", "32"});
        REQUIRE(q.code == 0);
        const test::CliRun d =
            test::run_sutra({"-q", "dequantize", qbin.string(), "-o", deq.string()});
        REQUIRE(d.code == 0);

        auto file = format::QbinFile::open(qbin);
        REQUIRE(file.ok());
        const model::QbinWeights weights(file.value());
        auto m = weights.load_matrix(c.linear);
        REQUIRE(m.ok());
        REQUIRE(m.value().packed);
        CHECK(m.value().empty());
        CHECK(m.value().packed->consistent());

        // The .qbin's own config travels in its profile; the dequantized file needs the
        // model's folder for it.
        const std::optional<fs::path> dir =
            fs::is_directory(c.model) ? std::optional<fs::path>(c.model) : std::nullopt;
        const auto packed = logits_of(qbin, std::nullopt, tokens);
        const auto decoded = logits_of(deq, dir, tokens);
        REQUIRE(packed.size() == decoded.size());
        CHECK(test::model::max_abs_diff(packed, decoded) < 1e-4);
    }
}

TEST_CASE("matrix: a .qbin's packed weights are used in place, in a mapping of the file",
          "[matrix][shared]") {
    const fs::path model = test::model::models_dir() / "stories260K-hf";
    test::TempDir tmp;
    const fs::path qbin = tmp / "m.qbin";
    REQUIRE(test::run_sutra({"-q", "quantize", model.string(), "-o", qbin.string(), "--bits", "4",
                             "--group-size", "32"})
                .code == 0);
    const char* linear = "model.layers.2.self_attn.q_proj.weight";
    std::shared_ptr<const quant::PackedMatrix> mapped;
    std::vector<float> read_rows;
    {
        auto file = format::QbinFile::open(qbin);
        REQUIRE(file.ok());
        const format::QbinRecord* r = file.value().find(linear);
        REQUIRE(r);
        auto a = file.value().map_packed(*r);
        auto b = file.value().map_packed(*r);
        auto c = file.value().read_packed(*r);
        REQUIRE(a.ok());
        REQUIRE(b.ok());
        REQUIRE(c.ok());
        // Both mapped views are the same bytes in the one mapping; the read one is a copy.
        CHECK(a.value().codes.data() == b.value().codes.data());
        CHECK(a.value().scales.data() == b.value().scales.data());
        CHECK(c.value().codes.data() != a.value().codes.data());
        CHECK(a.value().consistent());
        CHECK(std::equal(a.value().codes.begin(), a.value().codes.end(), c.value().codes.begin(),
                         c.value().codes.end()));
        CHECK(std::equal(a.value().scales.begin(), a.value().scales.end(), c.value().scales.begin(),
                         c.value().scales.end()));
        CHECK(std::equal(a.value().zeros.begin(), a.value().zeros.end(), c.value().zeros.begin(),
                         c.value().zeros.end()));
        // QbinWeights maps by default and reads with mapping off.
        CHECK(model::QbinWeights(file.value()).load_matrix(linear).value().packed->codes.data() ==
              a.value().codes.data());
        CHECK(model::QbinWeights(file.value(), false)
                  .load_matrix(linear)
                  .value()
                  .packed->codes.data() != a.value().codes.data());
        mapped = std::make_shared<const quant::PackedMatrix>(std::move(a).value());
        read_rows.resize(r->layout.rows * r->layout.cols);
        c.value().dequantize_rows(simd::active(), 0, r->layout.rows, read_rows.data());
    }
    // The file is closed: the matrix keeps its mapping.
    std::vector<float> mapped_rows(read_rows.size(), NAN);
    mapped->dequantize_rows(simd::active(), 0, mapped->rows(), mapped_rows.data());
    CHECK(mapped_rows == read_rows);

    // The logits are the same bits whether the weights are mapped or read (--no-mmap).
    const std::vector<int32_t> tokens = {1, 65, 200, 17, 100, 99, 42, 7};
    const auto with_map = logits_of(qbin, std::nullopt, tokens);
    model::QbinWeights::set_qbin_mapping(false);
    const auto without = logits_of(qbin, std::nullopt, tokens);
    model::QbinWeights::set_qbin_mapping(true);
    CHECK(with_map == without);
}
