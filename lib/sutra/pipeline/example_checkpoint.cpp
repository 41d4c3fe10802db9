#include "sutra/pipeline/example_checkpoint.hpp"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "sutra/base/half.hpp"
#include "sutra/io/output_file.hpp"
#include "sutra/io/safetensors_writer.hpp"

namespace sutra::pipeline {
namespace fs = std::filesystem;

namespace {

struct Spec {
    std::string name;
    std::vector<uint64_t> shape;
    float std;     // spread of the values
    float center;  // 1 for norm weights, 0 otherwise
};

uint64_t splitmix(uint64_t& s) {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view s) {
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s)
        h = (h ^ c) * 1099511628211ULL;
    return h;
}

std::vector<Spec> specs(const ExampleShape& s) {
    const uint64_t hd = s.hidden / s.heads;
    const float w = 0.02f;
    std::vector<Spec> v;
    v.push_back({"model.embed_tokens.weight", {s.vocab, s.hidden}, w, 0});
    for (uint64_t l = 0; l < s.layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        v.push_back({p + "input_layernorm.weight", {s.hidden}, 0.05f, 1});
        v.push_back({p + "self_attn.q_proj.weight", {s.heads * hd, s.hidden}, w, 0});
        v.push_back({p + "self_attn.k_proj.weight", {s.kv_heads * hd, s.hidden}, w, 0});
        v.push_back({p + "self_attn.v_proj.weight", {s.kv_heads * hd, s.hidden}, w, 0});
        v.push_back({p + "self_attn.o_proj.weight", {s.hidden, s.heads * hd}, w, 0});
        v.push_back({p + "post_attention_layernorm.weight", {s.hidden}, 0.05f, 1});
        v.push_back({p + "mlp.gate_proj.weight", {s.intermediate, s.hidden}, w, 0});
        v.push_back({p + "mlp.up_proj.weight", {s.intermediate, s.hidden}, w, 0});
        v.push_back({p + "mlp.down_proj.weight", {s.hidden, s.intermediate}, w, 0});
    }
    v.push_back({"model.norm.weight", {s.hidden}, 0.05f, 1});
    if (!s.tie_embeddings) v.push_back({"lm_head.weight", {s.vocab, s.hidden}, w, 0});
    return v;
}

// Triangular noise in [-std, std] from two 24-bit uniforms; 1 input column in 64 is 8x
// larger, like the outlier channels of trained models.
void fill(const Spec& sp, uint64_t seed, uint64_t begin, float* out, uint64_t n) {
    const uint64_t cols = sp.shape.back();
    for (uint64_t i = 0; i < n; ++i) {
        const uint64_t idx = begin + i;
        uint64_t st = seed ^ fnv1a(sp.name) ^ (idx * 0xd1b54a32d192ed03ULL);
        const float u1 = static_cast<float>(splitmix(st) >> 40) * (1.0f / 16777216.0f);
        const float u2 = static_cast<float>(splitmix(st) >> 40) * (1.0f / 16777216.0f);
        float x = (u1 - u2) * sp.std;
        if (sp.shape.size() == 2 && (idx % cols) % 64 == 7) x *= 8.0f;
        out[i] = sp.center + x;
    }
}

}  // namespace

Result<ExampleShape> example_shape(std::string_view name) {
    if (name == "tiny") return ExampleShape{"tiny", 128, 384, 2, 4, 2, 512, false};
    if (name == "1b") return ExampleShape{"1b", 2048, 5632, 22, 32, 4, 32000, false};
    return make_error(Errc::invalid_argument,
                      "unknown example shape \"" + std::string(name) + "\" (known: tiny, 1b)");
}

Result<ExampleReport> write_example_checkpoint(const fs::path& dir, const ExampleOptions& opt) {
    if (!dtype_is_float_quantizable(opt.dtype))
        return make_error(Errc::invalid_argument, "example dtype must be F32, F16 or BF16");
    const auto& s = opt.shape;
    if (s.heads == 0 || s.kv_heads == 0 || s.hidden % s.heads != 0 || s.heads % s.kv_heads != 0)
        return make_error(Errc::invalid_argument,
                          "example shape: heads must divide hidden, kv_heads divide heads");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(Errc::io, dir.string() + ": cannot create folder: " + ec.message());

    const auto sp = specs(s);
    std::vector<io::OutTensor> outs;
    ExampleReport rep;
    for (const auto& t : sp) {
        uint64_t n = 1;
        for (auto d : t.shape)
            n *= d;
        rep.parameters += n;
        outs.push_back({t.name, opt.dtype, t.shape, n * dtype_size(opt.dtype)});
    }
    const std::string header = io::build_safetensors_header({{"format", "pt"}}, outs);
    const std::string prefix = io::header_length_prefix(header.size());
    rep.weights = dir / "model.safetensors";
    SUTRA_ASSIGN(io::OutputFile out, io::OutputFile::create(rep.weights, opt.force, {}));
    SUTRA_TRY(out.write_at(0, {reinterpret_cast<const uint8_t*>(prefix.data()), 8}));
    SUTRA_TRY(out.write_at(8, {reinterpret_cast<const uint8_t*>(header.data()), header.size()}));
    uint64_t pos = 8 + header.size();
    const uint64_t chunk = 1u << 20;
    std::vector<float> f(chunk);
    std::vector<uint8_t> bytes(chunk * 4);
    const uint32_t es = dtype_size(opt.dtype);
    for (size_t i = 0; i < sp.size(); ++i) {
        const uint64_t n = outs[i].nbytes / es;
        for (uint64_t b = 0; b < n; b += chunk) {
            const uint64_t m = std::min(chunk, n - b);
            fill(sp[i], opt.seed, b, f.data(), m);
            for (uint64_t k = 0; k < m; ++k) {
                if (opt.dtype == DType::F32) {
                    std::memcpy(bytes.data() + 4 * k, &f[k], 4);
                } else {
                    const uint16_t h =
                        opt.dtype == DType::F16 ? f32_to_f16(f[k]) : f32_to_bf16(f[k]);
                    std::memcpy(bytes.data() + 2 * k, &h, 2);
                }
            }
            SUTRA_TRY(out.write_at(pos, std::span<const uint8_t>(bytes.data(), m * es)));
            pos += m * es;
        }
    }
    SUTRA_TRY(out.commit());
    rep.bytes = pos;

    nlohmann::ordered_json c;
    c["architectures"] = {"LlamaForCausalLM"};
    c["model_type"] = "llama";
    c["vocab_size"] = s.vocab;
    c["hidden_size"] = s.hidden;
    c["intermediate_size"] = s.intermediate;
    c["num_hidden_layers"] = s.layers;
    c["num_attention_heads"] = s.heads;
    c["num_key_value_heads"] = s.kv_heads;
    c["head_dim"] = s.hidden / s.heads;
    c["max_position_embeddings"] = 2048;
    c["rms_norm_eps"] = 1e-5;
    c["rope_theta"] = 10000.0;
    c["hidden_act"] = "silu";
    c["tie_word_embeddings"] = s.tie_embeddings;
    c["bos_token_id"] = 1;
    c["eos_token_id"] = 2;
    c["torch_dtype"] =
        opt.dtype == DType::F32 ? "float32" : (opt.dtype == DType::F16 ? "float16" : "bfloat16");
    const std::string text = c.dump(2) + "\n";
    SUTRA_ASSIGN(io::OutputFile cfg, io::OutputFile::create(dir / "config.json", true, {}));
    SUTRA_TRY(cfg.write_at(0, {reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
    SUTRA_TRY(cfg.commit());
    return rep;
}

}  // namespace sutra::pipeline
