#include "sutra/pipeline/example_checkpoint.hpp"

#include <algorithm>
#include <cmath>
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

bool has_qkv_bias(const ExampleShape& s) {
    return s.model_type == "qwen2" ||
           (s.attention_bias && (s.model_type == "llama" || s.model_type == "qwen3"));
}
bool has_o_bias(const ExampleShape& s) {
    return s.attention_bias && (s.model_type == "llama" || s.model_type == "qwen3");
}

// The family shapes: linear spreads sqrt(6 / fan_in) (the triangular noise of `fill` has
// variance spread^2 / 6, so outputs have about the variance of the inputs), embeddings 0.5,
// norms 1 +- 0.5, biases 0.5 (o: 0.2).
std::vector<Spec> family_specs(const ExampleShape& s) {
    const uint64_t hd = s.head_width();
    const uint64_t qw = s.heads * hd, kvw = s.kv_heads * hd;
    auto lin = [](uint64_t fan_in) { return std::sqrt(6.0f / static_cast<float>(fan_in)); };
    std::vector<Spec> v;
    v.push_back({"model.embed_tokens.weight", {s.vocab, s.hidden}, 0.5f, 0});
    for (uint64_t l = 0; l < s.layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        v.push_back({p + "input_layernorm.weight", {s.hidden}, 0.5f, 1});
        v.push_back({p + "self_attn.q_proj.weight", {qw, s.hidden}, lin(s.hidden), 0});
        v.push_back({p + "self_attn.k_proj.weight", {kvw, s.hidden}, lin(s.hidden), 0});
        v.push_back({p + "self_attn.v_proj.weight", {kvw, s.hidden}, lin(s.hidden), 0});
        if (has_qkv_bias(s)) {
            v.push_back({p + "self_attn.q_proj.bias", {qw}, 0.5f, 0});
            v.push_back({p + "self_attn.k_proj.bias", {kvw}, 0.5f, 0});
            v.push_back({p + "self_attn.v_proj.bias", {kvw}, 0.5f, 0});
        }
        if (s.model_type == "qwen3") {
            v.push_back({p + "self_attn.q_norm.weight", {hd}, 0.5f, 1});
            v.push_back({p + "self_attn.k_norm.weight", {hd}, 0.5f, 1});
        }
        v.push_back({p + "self_attn.o_proj.weight", {s.hidden, qw}, lin(qw), 0});
        if (has_o_bias(s)) v.push_back({p + "self_attn.o_proj.bias", {s.hidden}, 0.2f, 0});
        v.push_back({p + "post_attention_layernorm.weight", {s.hidden}, 0.5f, 1});
        v.push_back({p + "mlp.gate_proj.weight", {s.intermediate, s.hidden}, lin(s.hidden), 0});
        v.push_back({p + "mlp.up_proj.weight", {s.intermediate, s.hidden}, lin(s.hidden), 0});
        v.push_back(
            {p + "mlp.down_proj.weight", {s.hidden, s.intermediate}, lin(s.intermediate), 0});
    }
    v.push_back({"model.norm.weight", {s.hidden}, 0.5f, 1});
    if (!s.tie_embeddings) v.push_back({"lm_head.weight", {s.vocab, s.hidden}, lin(s.hidden), 0});
    return v;
}

// The original shapes (tiny, 1b): small constant spreads; their bytes must not change.
std::vector<Spec> specs(const ExampleShape& s) {
    if (s.family_init) return family_specs(s);
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
    const uint64_t base = seed ^ fnv1a(sp.name);
    for (uint64_t i = 0; i < n; ++i) {
        const uint64_t idx = begin + i;
        uint64_t st = base ^ (idx * 0xd1b54a32d192ed03ULL);
        const float u1 = static_cast<float>(splitmix(st) >> 40) * (1.0f / 16777216.0f);
        const float u2 = static_cast<float>(splitmix(st) >> 40) * (1.0f / 16777216.0f);
        float x = (u1 - u2) * sp.std;
        if (sp.shape.size() == 2 && (idx % cols) % 64 == 7) x *= 8.0f;
        out[i] = sp.center + x;
    }
}

const char* torch_dtype(DType d) {
    return d == DType::F32 ? "float32" : (d == DType::F16 ? "float16" : "bfloat16");
}

// The config.json of the original shapes (unchanged bytes).
nlohmann::ordered_json original_config(const ExampleShape& s, DType dtype) {
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
    c["torch_dtype"] = torch_dtype(dtype);
    return c;
}

// A complete config.json for the family: the fields of its transformers configuration class
// (LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config), laid out as the published models'.
nlohmann::ordered_json family_config(const ExampleShape& s, DType dtype) {
    static const std::pair<const char*, const char*> kArch[] = {{"llama", "LlamaForCausalLM"},
                                                                {"mistral", "MistralForCausalLM"},
                                                                {"qwen2", "Qwen2ForCausalLM"},
                                                                {"qwen3", "Qwen3ForCausalLM"}};
    const char* arch = "LlamaForCausalLM";
    for (const auto& [type, name] : kArch)
        if (s.model_type == type) arch = name;
    using ojson = nlohmann::ordered_json;
    ojson c;
    c["architectures"] = {arch};
    c["model_type"] = s.model_type;
    c["vocab_size"] = s.vocab;
    c["hidden_size"] = s.hidden;
    c["intermediate_size"] = s.intermediate;
    c["num_hidden_layers"] = s.layers;
    c["num_attention_heads"] = s.heads;
    c["num_key_value_heads"] = s.kv_heads;
    if (s.model_type != "qwen2") c["head_dim"] = s.head_width();  // Qwen2Config has none
    c["hidden_act"] = "silu";
    c["max_position_embeddings"] = s.model_type == "llama" ? 512 : 32768;
    c["initializer_range"] = 0.02;
    c["rms_norm_eps"] = s.rms_norm_eps;
    c["use_cache"] = true;
    c["rope_theta"] = s.rope_theta;
    if (s.rope_type == "default") {
        c["rope_scaling"] = nullptr;
    } else {
        ojson r;
        r["rope_type"] = s.rope_type;
        r["factor"] = s.rope_factor;
        if (s.rope_type == "llama3") {
            r["low_freq_factor"] = 1.0;
            r["high_freq_factor"] = 4.0;
            r["original_max_position_embeddings"] = s.rope_original_max_position;
        }
        c["rope_scaling"] = r;
    }
    if (s.model_type == "llama") {
        c["pretraining_tp"] = 1;
        c["attention_bias"] = s.attention_bias;
        c["mlp_bias"] = false;
    } else if (s.model_type == "mistral") {
        c["sliding_window"] = s.sliding_window ? ojson(s.sliding_window) : ojson(nullptr);
    } else {
        if (s.model_type == "qwen3") c["attention_bias"] = s.attention_bias;
        c["use_sliding_window"] = false;
        c["sliding_window"] = s.model_type == "qwen2" ? ojson(32768) : ojson(nullptr);
        c["max_window_layers"] = s.layers;
    }
    c["attention_dropout"] = 0.0;
    c["tie_word_embeddings"] = s.tie_embeddings;
    c["bos_token_id"] = s.bos_token_id;
    c["eos_token_id"] = s.eos_token_id;
    c["torch_dtype"] = torch_dtype(dtype);
    return c;
}

}  // namespace

const std::vector<std::string>& example_shape_names() {
    static const std::vector<std::string> names = {"tiny",         "1b",         "tiny-llama3",
                                                   "tiny-mistral", "tiny-qwen2", "tiny-qwen3"};
    return names;
}

Result<ExampleShape> example_shape(std::string_view name) {
    if (name == "tiny") return ExampleShape{"tiny", 128, 384, 2, 4, 2, 512, false};
    if (name == "1b") return ExampleShape{"1b", 2048, 5632, 22, 32, 4, 32000, false};
    ExampleShape f{std::string(name), 64, 192, 2, 4, 2, 0, false};
    f.family_init = true;
    f.dtype = DType::BF16;
    if (name == "tiny-llama3") {
        f.vocab = 128256;
        f.rope_theta = 500000.0;
        f.rope_type = "llama3";
        f.rope_factor = 8.0;
        f.rope_original_max_position = 64;
        f.bos_token_id = 128000;
        f.eos_token_id = 128001;
        return f;
    }
    if (name == "tiny-mistral") {
        f.model_type = "mistral";
        f.vocab = 32000;
        f.head_dim = 16;
        f.sliding_window = 16;
        return f;
    }
    if (name == "tiny-qwen2" || name == "tiny-qwen3") {
        const bool qwen3 = name == "tiny-qwen3";
        f.model_type = qwen3 ? "qwen3" : "qwen2";
        f.vocab = 151936;
        f.tie_embeddings = true;
        f.rope_theta = 1000000.0;
        f.rms_norm_eps = 1e-6;
        f.bos_token_id = 151643;
        f.eos_token_id = qwen3 ? 151645 : 151643;
        if (qwen3) f.head_dim = 32;
        return f;
    }
    std::string known;
    for (const auto& n : example_shape_names())
        known += (known.empty() ? "" : ", ") + n;
    return make_error(Errc::invalid_argument,
                      "unknown example shape \"" + std::string(name) + "\" (known: " + known + ")");
}

Result<ExampleReport> write_example_checkpoint(const fs::path& dir, const ExampleOptions& opt) {
    if (!dtype_is_float_quantizable(opt.dtype))
        return make_error(Errc::invalid_argument, "example dtype must be F32, F16 or BF16");
    const auto& s = opt.shape;
    if (s.heads == 0 || s.kv_heads == 0 || s.hidden == 0 || s.vocab == 0 ||
        (s.head_dim == 0 && s.hidden % s.heads != 0) || s.heads % s.kv_heads != 0 ||
        s.head_width() % 2 != 0)
        return make_error(Errc::invalid_argument,
                          "example shape: heads must divide hidden (or head_dim be given), "
                          "kv_heads divide heads, and the head width be even");
    if (s.model_type != "llama" && s.model_type != "mistral" && s.model_type != "qwen2" &&
        s.model_type != "qwen3")
        return make_error(Errc::invalid_argument,
                          "example shape: model_type must be llama, mistral, qwen2 or qwen3");
    if (s.rope_type != "default" && s.rope_type != "linear" && s.rope_type != "llama3")
        return make_error(Errc::invalid_argument,
                          "example shape: rope_type must be default, linear or llama3");
    if (!s.family_init && (s.model_type != "llama" || s.head_dim || s.attention_bias ||
                           s.sliding_window || s.rope_type != "default"))
        return make_error(Errc::invalid_argument,
                          "example shape: family settings need family_init");
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

    const nlohmann::ordered_json c =
        s.family_init ? family_config(s, opt.dtype) : original_config(s, opt.dtype);
    const std::string text = c.dump(2) + "\n";
    SUTRA_ASSIGN(io::OutputFile cfg, io::OutputFile::create(dir / "config.json", true, {}));
    SUTRA_TRY(cfg.write_at(0, {reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
    SUTRA_TRY(cfg.commit());
    return rep;
}

}  // namespace sutra::pipeline
