// The presets' promises: `aggressive` reaches the documented compression ratio, and on the
// real stories260K model the three presets are strictly ordered (smaller file <=> larger error).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "support/paths.hpp"
#include "sutra/format/qbin_reader.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/io/safetensors_writer.hpp"
#include "sutra/pipeline/dequantize.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"
#include "sutra/pipeline/quantize.hpp"
#include "sutra/pipeline/validate.hpp"

using namespace sutra;

namespace {

// A sparse F32 file with the tensor table of the given example shape: the header is real,
// the data reads as zeros and takes no disk space. Enough for a dry run, which reads headers only.
void write_sparse_f32(const std::filesystem::path& p, const pipeline::ExampleShape& s) {
    std::vector<io::OutTensor> t;
    auto add = [&](const std::string& n, std::vector<uint64_t> shape) {
        uint64_t b = 4;
        for (auto d : shape)
            b *= d;
        t.push_back({n, DType::F32, shape, b});
    };
    add("model.embed_tokens.weight", {s.vocab, s.hidden});
    const uint64_t kv = s.kv_heads * (s.hidden / s.heads);
    for (uint64_t l = 0; l < s.layers; ++l) {
        const std::string pre = "model.layers." + std::to_string(l) + ".";
        add(pre + "input_layernorm.weight", {s.hidden});
        add(pre + "self_attn.q_proj.weight", {s.hidden, s.hidden});
        add(pre + "self_attn.k_proj.weight", {kv, s.hidden});
        add(pre + "self_attn.v_proj.weight", {kv, s.hidden});
        add(pre + "self_attn.o_proj.weight", {s.hidden, s.hidden});
        add(pre + "post_attention_layernorm.weight", {s.hidden});
        add(pre + "mlp.gate_proj.weight", {s.intermediate, s.hidden});
        add(pre + "mlp.up_proj.weight", {s.intermediate, s.hidden});
        add(pre + "mlp.down_proj.weight", {s.hidden, s.intermediate});
    }
    add("model.norm.weight", {s.hidden});
    add("lm_head.weight", {s.vocab, s.hidden});
    const std::string h = io::build_safetensors_header({{"format", "pt"}}, t);
    uint64_t total = 8 + h.size();
    for (const auto& x : t)
        total += x.nbytes;
    {
        std::ofstream f(p, std::ios::binary);
        const std::string prefix = io::header_length_prefix(h.size());
        f.write(prefix.data(), 8);
        f.write(h.data(), static_cast<std::streamsize>(h.size()));
    }
    REQUIRE(::truncate(p.c_str(), static_cast<off_t>(total)) == 0);
}

}  // namespace

TEST_CASE("aggressive reaches a compression ratio of at least 7.42 on a 1B-shaped F32 checkpoint",
          "[pipeline]") {
    test::TempDir d;
    auto shape = pipeline::example_shape("1b");
    REQUIRE(shape.ok());
    write_sparse_f32(d / "model.safetensors", *shape);
    pipeline::QuantizeOptions o;
    o.input = d / "model.safetensors";
    o.output = d / "out.qbin";
    o.preset = "aggressive";
    o.dry_run = true;
    auto r = pipeline::run_quantize(o, nullptr);
    REQUIRE(r.ok());
    INFO("ratio " << r->ratio);
    CHECK(r->ratio >= 7.42);
    CHECK(r->input_file_bytes > 4'000'000'000ull);
}

TEST_CASE("presets on stories260K: smaller file <=> larger error, strictly",
          "[pipeline][shared][slow]") {
    const auto model = test::shared_dir() / "models" / "stories260K-hf";
    REQUIRE(std::filesystem::exists(model / "model.safetensors"));
    test::TempDir d;
    struct Point {
        std::string preset;
        uint64_t bytes;
        double err;  // mean KL divergence of the quantized model from the original
    };
    std::vector<Point> pts;
    for (const char* preset : {"aggressive", "balanced", "conservative"}) {
        pipeline::QuantizeOptions o;
        o.input = model;
        o.output = d / (std::string(preset) + ".qbin");
        o.preset = preset;
        auto r = pipeline::run_quantize(o, nullptr);
        REQUIRE(r.ok());
        // Model-level error: the presets fold data-free salience scales into some tensors,
        // which makes a weight-by-weight comparison meaningless for those.
        pipeline::ValidateOptions v;
        v.qbin = o.output;
        v.against = model;
        v.text = test::shared_dir() / "text" / "tinystories_eval.txt";
        v.max_tokens = 8192;
        auto vr = pipeline::run_validate(v, nullptr);
        REQUIRE(vr.ok());
        REQUIRE(vr->passed);
        REQUIRE(vr->quality.has_value());
        pts.push_back({preset, r->output_file_bytes, vr->quality->mean_kl});
    }
    for (size_t i = 0; i + 1 < pts.size(); ++i) {
        INFO(pts[i].preset << " " << pts[i].bytes << " B KL " << pts[i].err << " vs "
                           << pts[i + 1].preset << " " << pts[i + 1].bytes << " B err "
                           << pts[i + 1].err);
        CHECK(pts[i].bytes < pts[i + 1].bytes);
        CHECK(pts[i].err > pts[i + 1].err);
    }
}

TEST_CASE(
    "both stories260K checkpoints quantize with every preset and dequantize gives back every "
    "tensor",
    "[pipeline][shared]") {
    for (const char* name : {"stories260K-hf", "stories260K-hf-bf16-sharded"}) {
        const auto model = test::shared_dir() / "models" / name;
        REQUIRE(std::filesystem::exists(model / "config.json"));
        auto orig = io::Checkpoint::open(model);
        REQUIRE(orig.ok());
        for (const char* preset : {"aggressive", "balanced", "conservative"}) {
            test::TempDir d;
            pipeline::QuantizeOptions o;
            o.input = model;
            o.output = d / "m.qbin";
            o.preset = preset;
            REQUIRE(pipeline::run_quantize(o, nullptr).ok());
            pipeline::DequantizeOptions dq;
            dq.input = o.output;
            dq.output = d / "back.safetensors";
            dq.dtype = std::nullopt;
            REQUIRE(pipeline::run_dequantize(dq, nullptr).ok());
            auto back = io::Checkpoint::open(dq.output);
            auto q = format::QbinFile::open(o.output);
            REQUIRE(q.ok());
            REQUIRE(back.ok());
            REQUIRE(back->tensors().size() == orig->tensors().size());
            for (size_t i = 0; i < orig->tensors().size(); ++i) {
                const auto& a = orig->tensors()[i];
                const auto& b = back->tensors()[i];
                INFO(name << " " << preset << " " << a.name);
                CHECK(a.name == b.name);
                CHECK(a.shape == b.shape);
                CHECK(a.dtype == b.dtype);
                // Unchanged 1-D tensors come back bit-exact; folded norms are transformed.
                const auto* rec = q->find(a.name);
                REQUIRE(rec != nullptr);
                if (a.shape.size() == 1 && !rec->transformed)
                    CHECK(*orig->read_all_f32(a) == *back->read_all_f32(b));
            }
        }
    }
}
