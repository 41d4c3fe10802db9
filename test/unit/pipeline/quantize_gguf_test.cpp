// `sutra quantize MODEL --format gguf` straight from a checkpoint: with calibration text the
// blocks are AWQ-transformed for the GGUF type and rounded with importance; without, the
// checkpoint's weights rounded as they are. Quality through llama.cpp itself is measured by
// test/interop/gguf_llamacpp_test.sh; here: the wiring, the types, determinism, and that AWQ
// really changed what was written.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "sutra/format/gguf_reader.hpp"
#include "sutra/quant/ggml_types.hpp"

using namespace sutra;
namespace fs = std::filesystem;

namespace {

// Tensor `name` of a GGUF file decoded to f32 (row width dims[0]).
std::vector<float> gguf_tensor(const fs::path& file, const std::string& name) {
    auto h = format::read_gguf_header(file);
    REQUIRE(h.ok());
    const format::GgufTensorInfo* t = h->find_tensor(name);
    REQUIRE(t != nullptr);
    const test::Bytes bytes = test::read_bytes(file);
    const auto type = static_cast<quant::GgmlType>(t->type_id);
    const uint64_t cols = t->dims[0], rows = t->numel / cols;
    const uint64_t rb = quant::ggml_row_bytes(type, cols);
    std::vector<float> out(static_cast<size_t>(t->numel));
    for (uint64_t r = 0; r < rows; ++r)
        quant::ggml_dequantize_row(type, bytes.data() + h->data_start + t->offset + r * rb, cols,
                                   out.data() + r * cols);
    return out;
}

std::string type_of(const fs::path& file, const std::string& name) {
    auto h = format::read_gguf_header(file);
    REQUIRE(h.ok());
    const format::GgufTensorInfo* t = h->find_tensor(name);
    REQUIRE(t != nullptr);
    return quant::find_ggml_type(t->type_id)->name;
}

}  // namespace

TEST_CASE("quantize --format gguf: AWQ inside GGUF from calibration text, and plain rounding",
          "[gguf][awq][shared][slow]") {
    const fs::path model = test::shared_dir() / "models" / "stories260K-hf";
    const fs::path text = test::shared_dir() / "text" / "tinystories_calib.txt";
    test::TempDir dir;
    const std::string awq1 = (dir.path() / "awq1.gguf").string();
    const std::string awq2 = (dir.path() / "awq2.gguf").string();
    const std::string rtn = (dir.path() / "rtn.gguf").string();
    const std::string f32 = (dir.path() / "f32.gguf").string();
    const std::vector<std::string> awq_args = {
        "quantize", model.string(), "--calib-text", text.string(), "--calib-tokens", "2048",
        "--format", "gguf",         "--gguf-type",  "Q4_0",        "--json"};
    auto with = [](std::vector<std::string> a, std::vector<std::string> more) {
        a.insert(a.end(), more.begin(), more.end());
        return a;
    };
    const auto r1 = test::run_sutra(with(awq_args, {"-o", awq1, "--threads", "1"}));
    INFO(r1.err);
    REQUIRE(r1.code == 0);
    const auto j = nlohmann::json::parse(r1.out);
    CHECK(j["method"] == "awq");
    REQUIRE(j["awq"].size() == 5);  // one entry per layer, with the alphas chosen
    const auto r2 = test::run_sutra(with(awq_args, {"-o", awq2, "--threads", "2"}));
    REQUIRE(r2.code == 0);
    CHECK(test::read_bytes(awq1) == test::read_bytes(awq2));  // thread count changes nothing

    REQUIRE(test::run_sutra({"quantize", model.string(), "--method", "rtn", "--format", "gguf",
                             "--gguf-type", "Q4_0", "-o", rtn})
                .code == 0);
    REQUIRE(test::run_sutra({"quantize", model.string(), "--method", "rtn", "--format", "gguf",
                             "--gguf-type", "F32", "-o", f32})
                .code == 0);

    // Types: the 64-wide linears Q4_0, the 172-wide down_proj F16 (llama.cpp's fallback),
    // norms F32.
    CHECK(type_of(awq1, "blk.0.attn_q.weight") == "Q4_0");
    CHECK(type_of(awq1, "blk.0.ffn_gate.weight") == "Q4_0");
    CHECK(type_of(awq1, "blk.0.ffn_down.weight") == "F16");
    CHECK(type_of(awq1, "blk.0.attn_norm.weight") == "F32");

    // Plain rounding keeps the norms as they are; AWQ folded 1/s into them.
    const auto norm_f32 = gguf_tensor(f32, "blk.0.attn_norm.weight");
    CHECK(gguf_tensor(rtn, "blk.0.attn_norm.weight") == norm_f32);
    CHECK(gguf_tensor(awq1, "blk.0.attn_norm.weight") != norm_f32);
    // And the RTN Q4_0 weights are the F32 weights rounded: close, not equal.
    const auto q_f32 = gguf_tensor(f32, "blk.0.attn_q.weight");
    const auto q_rtn = gguf_tensor(rtn, "blk.0.attn_q.weight");
    REQUIRE(q_f32.size() == q_rtn.size());
    double err = 0, norm = 0;
    for (size_t i = 0; i < q_f32.size(); ++i) {
        const double d = static_cast<double>(q_f32[i]) - static_cast<double>(q_rtn[i]);
        err += d * d;
        norm += static_cast<double>(q_f32[i]) * static_cast<double>(q_f32[i]);
    }
    CHECK(err > 0);
    CHECK(err / norm < 0.02);
}

TEST_CASE("quantize --format gguf: bad requests refused before any output", "[gguf][shared]") {
    const fs::path model = test::shared_dir() / "models" / "stories260K-hf";
    test::TempDir dir;
    const fs::path out = dir.path() / "x.gguf";
    const auto bad_type = test::run_sutra({"quantize", model.string(), "--format", "gguf",
                                           "--gguf-type", "Q4_9", "-o", out.string()});
    CHECK(bad_type.code == 2);
    CHECK(bad_type.err.find("Q4_9") != std::string::npos);
    CHECK_FALSE(fs::exists(out));
    const auto dry = test::run_sutra(
        {"quantize", model.string(), "--format", "gguf", "--dry-run", "-o", out.string()});
    CHECK(dry.code == 2);
    CHECK_FALSE(fs::exists(out));
}
