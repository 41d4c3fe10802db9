#include <catch2/catch.hpp>

#include "support/fixtures.hpp"
#include "support/paths.hpp"
#include "sutra/base/half.hpp"
#include "sutra/format/qbin_reader.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/pipeline/dequantize.hpp"
#include "sutra/pipeline/quantize.hpp"
#include "sutra/quant/rtn.hpp"

using namespace sutra;

namespace {

std::vector<test::FixtureTensor> mixed_model() {
    return {
        {"model.embed_tokens.weight", DType::F32, {32, 64}, test::noise(32 * 64, 1, 0.1f), {}},
        {"model.layers.0.input_layernorm.weight", DType::F32, {64}, test::noise(64, 2), {}},
        {"model.layers.0.self_attn.q_proj.weight",
         DType::F16,
         {48, 64},
         test::noise(48 * 64, 3, 0.05f),
         {}},
        {"model.layers.0.mlp.down_proj.weight",
         DType::BF16,
         {64, 172},
         test::noise(64 * 172, 4, 0.05f),
         {}},
        {"step", DType::I64, {}, {}, std::vector<uint8_t>{7, 0, 0, 0, 0, 0, 0, 0}},
        {"model.norm.weight", DType::F32, {64}, test::noise(64, 5), {}},
    };
}

pipeline::QuantizeOptions options(const test::TempDir& d, const std::string& out,
                                  const std::string& preset) {
    pipeline::QuantizeOptions o;
    o.input = d / "m.safetensors";
    o.output = d / out;
    o.preset = preset;
    o.chunk_bytes = 4096;  // several row blocks per tensor
    return o;
}

// What the scalar reference gives for one tensor, dequantized.
std::vector<float> reference_rtn(const std::vector<float>& w, uint64_t rows, uint64_t cols,
                                 int bits, uint32_t g) {
    auto l = quant::make_layout(rows, cols, bits, g);
    std::vector<float> out(rows * cols);
    std::vector<uint8_t> codes(cols), zeros(l.n_groups);
    std::vector<uint16_t> scales(l.n_groups);
    for (uint64_t r = 0; r < rows; ++r) {
        size_t bad = 0;
        REQUIRE(quant::quantize_row_rtn(w.data() + r * cols, l, codes.data(), scales.data(),
                                        zeros.data(), &bad) == quant::RowStatus::ok);
        quant::dequantize_row(codes.data(), scales.data(), zeros.data(), l, out.data() + r * cols);
    }
    return out;
}

}  // namespace

TEST_CASE("quantize -> .qbin -> read back: records, values, dequantize", "[format]") {
    test::TempDir d;
    const auto model = mixed_model();
    test::write_safetensors(d / "m.safetensors", model, {{"format", "pt"}});
    auto rep = pipeline::run_quantize(options(d, "m.qbin", "balanced"), nullptr);
    REQUIRE(rep.ok());
    CHECK(rep->quantized == 3);
    CHECK(rep->kept == 3);
    CHECK(std::filesystem::file_size(d / "m.qbin") == rep->output_file_bytes);

    auto q = format::QbinFile::open(d / "m.qbin");
    REQUIRE(q.ok());
    REQUIRE(q->records().size() == model.size());
    for (size_t i = 0; i < model.size(); ++i) {
        CHECK(q->records()[i].name == model[i].name);
        CHECK(q->records()[i].shape == model[i].shape);
        CHECK(q->records()[i].dtype == model[i].dtype);
    }
    auto damage = q->verify_data();
    REQUIRE(damage.ok());
    CHECK(damage->empty());

    // Values equal the scalar reference applied to the (converted) input.
    auto ck = io::Checkpoint::open(d / "m.safetensors");
    REQUIRE(ck.ok());
    const auto& q_rec = q->records()[2];
    REQUIRE(q_rec.quantized);
    CHECK(q_rec.bits == 4);
    auto w = ck->read_all_f32("model.layers.0.self_attn.q_proj.weight");
    REQUIRE(w.ok());
    auto got = q->read_all_f32(q_rec);
    REQUIRE(got.ok());
    CHECK(*got == reference_rtn(*w, 48, 64, 4, 128));
    const auto& emb = q->records()[0];
    CHECK(emb.bits == 8);
    auto we = ck->read_all_f32("model.embed_tokens.weight");
    auto ge = q->read_all_f32(emb);
    REQUIRE(ge.ok());
    CHECK(*ge == reference_rtn(*we, 32, 64, 8, 128));

    // dequantize --dtype original restores names, shapes, dtypes, order and metadata.
    pipeline::DequantizeOptions dq;
    dq.input = d / "m.qbin";
    dq.output = d / "back.safetensors";
    dq.dtype = std::nullopt;
    REQUIRE(pipeline::run_dequantize(dq, nullptr).ok());
    auto back = io::Checkpoint::open(d / "back.safetensors");
    REQUIRE(back.ok());
    REQUIRE(back->tensors().size() == model.size());
    for (size_t i = 0; i < model.size(); ++i) {
        CHECK(back->tensors()[i].name == model[i].name);
        CHECK(back->tensors()[i].dtype == model[i].dtype);
        CHECK(back->tensors()[i].shape == model[i].shape);
    }
    REQUIRE(back->metadata().size() == 1);
    CHECK(back->metadata()[0] == std::pair<std::string, std::string>("format", "pt"));
    // Kept tensors are bit-exact, the I64 scalar included.
    auto n1 = back->read_all_f32("model.layers.0.input_layernorm.weight");
    CHECK(*n1 == *ck->read_all_f32("model.layers.0.input_layernorm.weight"));
    std::vector<uint8_t> step(8);
    REQUIRE(back->read_raw(*back->find("step"), 0, step).ok());
    CHECK(step[0] == 7);
    // Quantized F16 tensor written back as F16 of the dequantized values.
    auto bq = back->read_all_f32("model.layers.0.self_attn.q_proj.weight");
    for (size_t i = 0; i < bq->size(); ++i)
        REQUIRE((*bq)[i] == f16_to_f32(f32_to_f16((*got)[i])));
}

TEST_CASE(
    "output bytes are identical on every run, whatever the chunk size; dry run predicts the size",
    "[format]") {
    test::TempDir d;
    test::write_safetensors(d / "m.safetensors", mixed_model());
    auto o1 = options(d, "a.qbin", "aggressive");
    auto o2 = options(d, "b.qbin", "aggressive");
    o2.chunk_bytes = 1u << 20;
    auto dry = options(d, "c.qbin", "aggressive");
    dry.dry_run = true;
    auto r1 = pipeline::run_quantize(o1, nullptr);
    auto r2 = pipeline::run_quantize(o2, nullptr);
    auto r3 = pipeline::run_quantize(dry, nullptr);
    REQUIRE(r1.ok());
    REQUIRE(r2.ok());
    REQUIRE(r3.ok());
    CHECK(test::read_file(d / "a.qbin") == test::read_file(d / "b.qbin"));
    CHECK(r3->output_file_bytes == std::filesystem::file_size(d / "a.qbin"));
    CHECK_FALSE(std::filesystem::exists(d / "c.qbin"));
}

TEST_CASE("corruption: a flipped data byte names the tensor, a flipped header byte is refused",
          "[format]") {
    test::TempDir d;
    test::write_safetensors(d / "m.safetensors", mixed_model());
    REQUIRE(pipeline::run_quantize(options(d, "m.qbin", "balanced"), nullptr).ok());
    auto bytes = test::read_file(d / "m.qbin");

    auto data_flip = bytes;
    data_flip[data_flip.size() - 3] ^= 0x01;  // inside model.norm.weight, the last tensor
    test::write_file(d / "data.qbin", data_flip);
    auto q = format::QbinFile::open(d / "data.qbin");
    REQUIRE(q.ok());
    auto dmg = q->verify_data();
    REQUIRE(dmg.ok());
    REQUIRE(dmg->size() == 1);
    CHECK(dmg->front().record == "model.norm.weight");

    pipeline::DequantizeOptions dq;
    dq.input = d / "data.qbin";
    dq.output = d / "out.safetensors";
    auto r = pipeline::run_dequantize(dq, nullptr);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::corrupt);
    CHECK_FALSE(std::filesystem::exists(d / "out.safetensors"));

    // A digit of a tensor checksum inside the profile: the header checksum catches it.
    auto hdr_flip = bytes;
    std::string text(hdr_flip.begin(), hdr_flip.begin() + 4000);
    const size_t at = text.find("xxh3\\\":\\\"") + 10;
    hdr_flip[at] = hdr_flip[at] == '0' ? '1' : '0';
    test::write_file(d / "hdr.qbin", hdr_flip);
    auto h = format::QbinFile::open(d / "hdr.qbin");
    REQUIRE_FALSE(h.ok());
    CHECK(h.error().code == Errc::corrupt);
    CHECK(h.error().message.find("header checksum") != std::string::npos);
}
