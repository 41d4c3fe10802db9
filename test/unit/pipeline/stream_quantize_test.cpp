// The streaming, parallel quantize (pipeline/stream_quantize.hpp) through run_quantize: the
// output bytes do not depend on the thread count, the instruction set or the row-block size;
// errors are those of the first failing block in file order whatever the thread count, and
// leave nothing behind; --max-memory shrinks row blocks or refuses; the report is filled in.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/base/half.hpp"
#include "sutra/base/memory.hpp"
#include "sutra/base/thread_pool.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"
#include "sutra/pipeline/quantize.hpp"
#include "sutra/simd/dispatch.hpp"

using namespace sutra;

namespace {

using sutra::test::listing;

namespace fs = std::filesystem;
using test::Bytes;

// Restores the best instruction set when a test that forces one ends, pass or fail.
struct IsaGuard {
    IsaGuard() = default;
    IsaGuard(const IsaGuard&) = delete;
    IsaGuard& operator=(const IsaGuard&) = delete;
    ~IsaGuard() { (void)simd::set_isa("auto"); }
};

// The tiny example checkpoint (2 layers, hidden 128, vocab 512) in `dtype`, in dir/model.
fs::path write_tiny(const test::TempDir& dir, DType dtype) {
    auto shape = pipeline::example_shape("tiny");
    REQUIRE(shape.ok());
    pipeline::ExampleOptions eo;
    eo.shape = *shape;
    eo.dtype = dtype;
    eo.seed = 7;
    const fs::path model = dir / "model";
    SUTRA_REQUIRE_OK(pipeline::write_example_checkpoint(model, eo));
    return model;
}

// Plain round-to-nearest with the balanced preset: every 2-D weight goes through the stream
// (attention/MLP at 4 bits, embeddings and head at 8), the norms are kept and copied. Row
// blocks of 4 KB of f32 (8 rows of 128), so every tensor spans many blocks.
pipeline::QuantizeOptions options(const fs::path& model, const fs::path& out, unsigned threads) {
    pipeline::QuantizeOptions o;
    o.input = model;
    o.output = out;
    o.preset = "balanced";
    o.method = "rtn";
    o.chunk_bytes = 4096;
    o.threads = threads;
    return o;
}

// Runs quantize and returns the output's bytes (the output is then removed).
Bytes quantized_bytes(const pipeline::QuantizeOptions& o) {
    auto rep = pipeline::run_quantize(o, nullptr);
    SUTRA_REQUIRE_OK(rep);
    Bytes b = test::read_bytes(o.output);
    CHECK(b.size() == rep->output_file_bytes);
    fs::remove(o.output);
    return b;
}

// Offset of the first differing byte, or -1 when equal (no vector dumps on failure).
int64_t first_difference(const Bytes& a, const Bytes& b) {
    const size_t n = std::min(a.size(), b.size());
    for (size_t i = 0; i < n; ++i)
        if (a[i] != b[i]) return static_cast<int64_t>(i);
    return a.size() == b.size() ? -1 : static_cast<int64_t>(n);
}

// Overwrites element [row, col] of a 2-D tensor of the checkpoint with a NaN (or +inf).
void plant(const fs::path& model, const std::string& tensor, uint64_t row, uint64_t col,
           bool inf = false) {
    uint64_t offset = 0, cols = 0;
    DType dtype = DType::F32;
    {
        auto ck = io::Checkpoint::open(model);
        REQUIRE(ck.ok());
        const io::TensorRef* t = ck->find(tensor);
        REQUIRE(t != nullptr);
        REQUIRE(t->shape.size() == 2);
        offset = t->file_offset;
        cols = t->shape[1];
        dtype = t->dtype;
    }
    const float v =
        inf ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
    Bytes b(dtype_size(dtype));
    if (dtype == DType::F32) {
        std::memcpy(b.data(), &v, 4);
    } else {
        const uint16_t h = dtype == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
        std::memcpy(b.data(), &h, 2);
    }
    const fs::path file = model / "model.safetensors";
    Bytes all = test::read_bytes(file);
    const uint64_t at = offset + (row * cols + col) * b.size();
    REQUIRE(at + b.size() <= all.size());
    std::copy(b.begin(), b.end(), all.begin() + static_cast<std::ptrdiff_t>(at));
    test::write_bytes(file, all);
}

const char* dtype_label(DType d) {
    return d == DType::F32 ? "F32" : (d == DType::F16 ? "F16" : "BF16");
}

}  // namespace

TEST_CASE("stream quantize: same bytes for threads 1, 2, 3, 5 and every ISA",
          "[pipeline][stream]") {
    IsaGuard guard;
    const auto isas = simd::available_isas();
    REQUIRE_FALSE(isas.empty());
    CHECK(isas.back() == "scalar");

    for (const DType dtype : {DType::F32, DType::F16, DType::BF16}) {
        INFO("dtype " << dtype_label(dtype));
        test::TempDir d;
        const fs::path model = write_tiny(d, dtype);
        const fs::path out = d / "out.qbin";

        // The reference: scalar kernels, one thread.
        SUTRA_REQUIRE_OK(simd::set_isa("scalar"));
        const auto ref_opt = options(model, out, 1);
        auto ref_rep = pipeline::run_quantize(ref_opt, nullptr);
        SUTRA_REQUIRE_OK(ref_rep);
        CHECK(ref_rep->method == "rtn");
        CHECK(ref_rep->quantized > 0);
        CHECK(ref_rep->kept > 0);  // the norms: a mix of quantized and copied records
        CHECK(ref_rep->block_bytes == 4096);
        const Bytes ref = test::read_bytes(out);
        fs::remove(out);
        REQUIRE(ref.size() == ref_rep->output_file_bytes);

        for (const auto& isa : isas) {
            SUTRA_REQUIRE_OK(simd::set_isa(isa));
            for (const unsigned threads : {1u, 2u, 3u, 5u}) {
                INFO("isa " << isa << ", threads " << threads);
                CHECK(first_difference(quantized_bytes(options(model, out, threads)), ref) == -1);
            }
        }

        // Block boundaries do not matter either: one block per tensor gives the same bytes.
        SUTRA_REQUIRE_OK(simd::set_isa("auto"));
        auto big = options(model, out, 2);
        big.chunk_bytes = 1u << 20;
        CHECK(first_difference(quantized_bytes(big), ref) == -1);
    }
}

TEST_CASE("stream quantize: data-free salience plus the stream, same bytes for threads and ISAs",
          "[pipeline][stream]") {
    // The balanced preset's default method on a Llama-shaped model: the norm groups are
    // transformed and written first, the rest streams.
    IsaGuard guard;
    test::TempDir d;
    const fs::path model = write_tiny(d, DType::BF16);
    const fs::path out = d / "out.qbin";
    SUTRA_REQUIRE_OK(simd::set_isa("scalar"));
    auto ref_opt = options(model, out, 1);
    ref_opt.method = "auto";
    auto ref_rep = pipeline::run_quantize(ref_opt, nullptr);
    SUTRA_REQUIRE_OK(ref_rep);
    CHECK(ref_rep->method == "data-free");
    const Bytes ref = test::read_bytes(out);
    fs::remove(out);
    for (const auto& isa : simd::available_isas()) {
        INFO("isa " << isa << ", 3 threads");
        SUTRA_REQUIRE_OK(simd::set_isa(isa));
        auto o = options(model, out, 3);
        o.method = "auto";
        CHECK(first_difference(quantized_bytes(o), ref) == -1);
    }
}

TEST_CASE("stream quantize: a NaN gives the same error for 1 and 4 threads, and no output",
          "[pipeline][stream]") {
    IsaGuard guard;
    for (const DType dtype : {DType::F32, DType::F16}) {
        INFO("dtype " << dtype_label(dtype));
        test::TempDir d;
        const fs::path model = write_tiny(d, dtype);
        // Three bad values: the error must name the first in file order, whichever thread
        // reaches which first. Rows 300 and 310 are in neighbouring blocks (8 rows each), both
        // in flight at once with 4 threads; the third is in a later tensor.
        plant(model, "model.layers.0.mlp.gate_proj.weight", 300, 17);
        plant(model, "model.layers.0.mlp.gate_proj.weight", 310, 3, true);
        plant(model, "model.layers.1.mlp.down_proj.weight", 2, 9, true);
        const fs::path out_dir = d / "out";
        fs::create_directory(out_dir);

        std::string first;
        for (const auto& isa : simd::available_isas()) {
            SUTRA_REQUIRE_OK(simd::set_isa(isa));
            for (const unsigned threads : {1u, 4u}) {
                INFO("isa " << isa << ", threads " << threads);
                auto rep =
                    pipeline::run_quantize(options(model, out_dir / "m.qbin", threads), nullptr);
                SUTRA_REQUIRE_ERROR(rep, Errc::bad_format,
                                    "tensor 'model.layers.0.mlp.gate_proj.weight'",
                                    "element [300, 17]", "NaN");
                if (first.empty()) first = rep.error().message;
                CHECK(rep.error().message == first);
                CHECK(listing(out_dir).empty());  // neither the output nor its temp file
            }
        }
    }
}

TEST_CASE("stream quantize: --max-memory refuses too little, shrinks blocks otherwise",
          "[pipeline][stream]") {
    test::TempDir d;
    const fs::path model = write_tiny(d, DType::F16);
    const fs::path out_dir = d / "out";
    fs::create_directory(out_dir);
    const fs::path out = out_dir / "m.qbin";

    auto base = options(model, out, 2);
    base.chunk_bytes = 256u << 10;  // the embeddings and head (256 KB of f32) in one block
    const Bytes ref = quantized_bytes(base);  // also brings the allocator to its steady state

    SECTION("too small") {
        auto o = base;
        o.max_memory = 1u << 20;  // below the process's own RSS
        auto rep = pipeline::run_quantize(o, nullptr);
        SUTRA_REQUIRE_ERROR(rep, Errc::invalid_argument, "--max-memory", "MiB", "2 threads");
        CHECK(listing(out_dir).empty());
    }
    SECTION("enough for smaller blocks: same bytes") {
        // What the process holds now, the 8 MiB allowance quantize adds for the allocator, and
        // 2 MiB for the buffers: about 9.5 blocks for 2 threads, so blocks of at most 128 KB.
        auto o = base;
        o.max_memory = current_rss_bytes() + (10u << 20);
        auto rep = pipeline::run_quantize(o, nullptr);
        SUTRA_REQUIRE_OK(rep);
        CHECK(rep->block_bytes < base.chunk_bytes);
        CHECK(rep->block_bytes >= 4096);
        CHECK(first_difference(test::read_bytes(out), ref) == -1);
    }
    SECTION("generous: blocks as asked, same bytes") {
        auto o = base;
        o.max_memory = uint64_t{64} << 30;
        auto rep = pipeline::run_quantize(o, nullptr);
        SUTRA_REQUIRE_OK(rep);
        CHECK(rep->block_bytes == base.chunk_bytes);
        CHECK(first_difference(test::read_bytes(out), ref) == -1);
    }
}

TEST_CASE("stream quantize: the report names threads, ISA and stage times", "[pipeline][stream]") {
    test::TempDir d;
    const fs::path model = write_tiny(d, DType::F16);
    const fs::path out = d / "out.qbin";

    auto rep = pipeline::run_quantize(options(model, out, 3), nullptr);
    SUTRA_REQUIRE_OK(rep);
    CHECK(rep->threads == 3);
    CHECK(rep->isa == simd::active().name);
    const auto isas = simd::available_isas();
    CHECK(std::find(isas.begin(), isas.end(), rep->isa) != isas.end());
    for (size_t i = 0; i < pipeline::kStageCount; ++i) {
        INFO("stage " << pipeline::kStageNames[i]);
        CHECK(rep->stages.seconds(static_cast<pipeline::Stage>(i)) >= 0.0);
    }
    CHECK(rep->stages.seconds(pipeline::Stage::quantize) > 0.0);
    CHECK(rep->stages.seconds(pipeline::Stage::read) > 0.0);
    CHECK(rep->seconds > 0.0);
    CHECK(rep->peak_rss_bytes > 0);
    fs::remove(out);

    // threads 0 means every core this process may use.
    auto o = options(model, out, 0);
    auto all = pipeline::run_quantize(o, nullptr);
    SUTRA_REQUIRE_OK(all);
    CHECK(all->threads == default_threads());
    CHECK(all->threads >= 1);

    // A dry run reports the threads and ISA it would use, and writes nothing.
    fs::remove(out);
    o.dry_run = true;
    auto dry = pipeline::run_quantize(o, nullptr);
    SUTRA_REQUIRE_OK(dry);
    CHECK(dry->threads == default_threads());
    CHECK(dry->isa == simd::active().name);
    CHECK_FALSE(fs::exists(out));
}
