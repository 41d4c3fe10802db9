#include "sutra/model/llama/llama_config.hpp"

#include <cmath>
#include <optional>
#include <string_view>

#include "sutra/io/strict_json.hpp"

namespace sutra::model {
namespace {

constexpr int64_t kMaxDim = int64_t{1} << 20;  // hidden, intermediate, head_dim
constexpr int64_t kMaxVocab = int64_t{1} << 24;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxHeads = 4096;

Error field_error(const std::string& what, std::string_view field, const std::string& problem) {
    return make_error(Errc::bad_format, what + ": field \"" + std::string(field) + "\" " + problem);
}

// An integer field in [lo, hi]. Absent or null: `fallback` if given, else an error.
Result<int64_t> get_int(const nlohmann::json& j, std::string_view key, const std::string& what,
                        int64_t lo, int64_t hi, std::optional<int64_t> fallback = std::nullopt) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        if (fallback) return *fallback;
        return field_error(what, key, "is missing; a Llama-family config.json must define it");
    }
    if (!it->is_number_integer()) return field_error(what, key, "must be an integer");
    int64_t v = 0;
    if (it->is_number_unsigned()) {
        const auto u = it->get<uint64_t>();
        if (u > static_cast<uint64_t>(hi)) {
            return field_error(
                what, key, "is " + std::to_string(u) + ", above the limit " + std::to_string(hi));
        }
        v = static_cast<int64_t>(u);
    } else {
        v = it->get<int64_t>();
    }
    if (v < lo || v > hi) {
        return field_error(what, key,
                           "is " + std::to_string(v) + ", outside [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]");
    }
    return v;
}

Result<double> get_double(const nlohmann::json& j, std::string_view key, const std::string& what,
                          std::optional<double> fallback, double lo, double hi) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        if (fallback) return *fallback;
        return field_error(what, key, "is missing; a Llama-family config.json must define it");
    }
    if (!it->is_number()) return field_error(what, key, "must be a number");
    const double v = it->get<double>();
    if (!std::isfinite(v) || v < lo || v > hi) {
        return field_error(what, key,
                           "is " + it->dump() + ", outside [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]");
    }
    return v;
}

Result<bool> get_bool(const nlohmann::json& j, std::string_view key, const std::string& what,
                      bool fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) return field_error(what, key, "must be true or false");
    return it->get<bool>();
}

Result<std::string> get_string(const nlohmann::json& j, std::string_view key,
                               const std::string& what, std::optional<std::string> fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        if (fallback) return *fallback;
        return field_error(what, key, "is missing; a Llama-family config.json must define it");
    }
    if (!it->is_string()) return field_error(what, key, "must be a string");
    return it->get<std::string>();
}

// Rotary parameters: `rope_parameters` (transformers 5) or `rope_scaling` (earlier), with
// `rope_theta` inside the former or at the top level.
Status parse_rope(const nlohmann::json& j, const std::string& what, LlamaConfig& c) {
    const nlohmann::json* rs = nullptr;
    std::string ctx;
    for (const char* key : {"rope_parameters", "rope_scaling"}) {
        auto it = j.find(key);
        if (it == j.end() || it->is_null()) continue;
        if (!it->is_object()) return field_error(what, key, "must be an object or null");
        rs = &*it;
        ctx = what + " " + key;
        break;
    }
    SUTRA_ASSIGN(c.rope_theta, get_double(j, "rope_theta", what, 10000.0, 1.0, 1e12));
    SUTRA_ASSIGN(double partial, get_double(j, "partial_rotary_factor", what, 1.0, 0.0, 1.0));
    if (rs && (rs->contains("full_attention") || rs->contains("sliding_attention"))) {
        // Per-layer-type parameters: fine when every layer type has the same (default) ones.
        if (rs->size() != 1 || !rs->contains("full_attention") ||
            !(*rs)["full_attention"].is_object()) {
            return make_error(Errc::unsupported,
                              ctx +
                                  ": per-layer-type rope parameters are not supported "
                                  "(supported: one set for every layer)");
        }
        rs = &(*rs)["full_attention"];
    }
    if (!rs) {
        if (partial != 1.0) {
            return make_error(Errc::unsupported, what + ": partial_rotary_factor " +
                                                     std::to_string(partial) +
                                                     " is not supported (only 1: rotary on the "
                                                     "whole head)");
        }
        return {};
    }
    if (rs->contains("rope_theta")) {
        SUTRA_ASSIGN(c.rope_theta, get_double(*rs, "rope_theta", ctx, std::nullopt, 1.0, 1e12));
    }
    if (rs->contains("partial_rotary_factor")) {
        SUTRA_ASSIGN(partial, get_double(*rs, "partial_rotary_factor", ctx, 1.0, 0.0, 1.0));
    }
    if (partial != 1.0) {
        return make_error(Errc::unsupported, ctx + ": partial_rotary_factor " +
                                                 std::to_string(partial) +
                                                 " is not supported (only 1: rotary on the whole "
                                                 "head)");
    }
    std::string type;
    if (rs->contains("rope_type")) {
        SUTRA_ASSIGN(type, get_string(*rs, "rope_type", ctx, std::nullopt));
    } else {
        SUTRA_ASSIGN(type, get_string(*rs, "type", ctx, std::nullopt));
    }
    if (type == "default") return {};
    if (type == "linear") {
        c.rope_scaling = RopeScaling::linear;
        SUTRA_ASSIGN(c.rope_factor, get_double(*rs, "factor", ctx, std::nullopt, 1e-6, 1e6));
        return {};
    }
    if (type == "llama3") {
        // transformers requires all four; so does sutra.
        c.rope_scaling = RopeScaling::llama3;
        SUTRA_ASSIGN(c.rope_factor, get_double(*rs, "factor", ctx, std::nullopt, 1e-6, 1e6));
        SUTRA_ASSIGN(c.rope_low_freq_factor,
                     get_double(*rs, "low_freq_factor", ctx, std::nullopt, 1e-6, 1e6));
        SUTRA_ASSIGN(c.rope_high_freq_factor,
                     get_double(*rs, "high_freq_factor", ctx, std::nullopt, 1e-6, 1e6));
        SUTRA_ASSIGN(c.rope_original_max_position,
                     get_int(*rs, "original_max_position_embeddings", ctx, 1, int64_t{1} << 40));
        if (!(c.rope_high_freq_factor > c.rope_low_freq_factor)) {
            return make_error(Errc::invalid_argument,
                              ctx + ": high_freq_factor must be greater than low_freq_factor");
        }
        return {};
    }
    return make_error(Errc::unsupported, ctx + ": rope type \"" + type +
                                             "\" is not supported (supported: default, linear, "
                                             "llama3)");
}

// The Llama-family architectures sutra runs, as (model_type, architectures class).
struct LlamaArchitecture {
    const char* model_type;
    const char* architecture;
};
constexpr LlamaArchitecture kLlamaArchitectures[] = {{"llama", "LlamaForCausalLM"},
                                                     {"mistral", "MistralForCausalLM"},
                                                     {"qwen2", "Qwen2ForCausalLM"},
                                                     {"qwen3", "Qwen3ForCausalLM"}};
constexpr const char* kSupportedArchitectures =
    "llama (LlamaForCausalLM), mistral (MistralForCausalLM), qwen2 (Qwen2ForCausalLM), "
    "qwen3 (Qwen3ForCausalLM)";

Status check_architectures(const nlohmann::json& j, const std::string& what,
                           const LlamaArchitecture& family) {
    auto it = j.find("architectures");
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_array() || it->empty())
        return field_error(what, "architectures", "must be a non-empty list of class names");
    for (const auto& a : *it) {
        if (!a.is_string())
            return field_error(what, "architectures", "must be a list of class names");
        if (a.get<std::string>() != family.architecture) {
            return make_error(Errc::unsupported, what + ": architectures names " + a.dump() +
                                                     " but model_type \"" + family.model_type +
                                                     "\" runs as " + family.architecture +
                                                     "; sutra supports " + kSupportedArchitectures);
        }
    }
    return {};
}

// Qwen2/Qwen3 sliding windows (transformers: use_sliding_window, then per layer either
// layer_types or index >= max_window_layers): refused when any layer would be windowed.
Status check_qwen_window(const nlohmann::json& j, const std::string& what, const LlamaConfig& c) {
    SUTRA_ASSIGN(bool use, get_bool(j, "use_sliding_window", what, false));
    if (!use) return {};
    if (auto w = j.find("sliding_window"); w != j.end() && w->is_null()) return {};
    std::vector<int64_t> windowed;
    if (auto lt = j.find("layer_types"); lt != j.end() && !lt->is_null()) {
        if (!lt->is_array() || static_cast<int64_t>(lt->size()) != c.num_hidden_layers)
            return field_error(what, "layer_types",
                               "must list one type per layer (num_hidden_layers)");
        for (size_t i = 0; i < lt->size(); ++i) {
            const auto& t = (*lt)[i];
            if (!t.is_string())
                return field_error(what, "layer_types", "must be a list of strings");
            if (t.get<std::string>() == "sliding_attention")
                windowed.push_back(static_cast<int64_t>(i));
            else if (t.get<std::string>() != "full_attention")
                return make_error(Errc::unsupported, what + ": layer_types holds " + t.dump() +
                                                         " (supported: full_attention)");
        }
    } else {
        SUTRA_ASSIGN(int64_t first,
                     get_int(j, "max_window_layers", what, 0, int64_t{1} << 40, int64_t{28}));
        for (int64_t i = first; i < c.num_hidden_layers; ++i)
            windowed.push_back(i);
    }
    if (windowed.empty()) return {};
    return make_error(
        Errc::unsupported,
        what + ": use_sliding_window true makes layer " + std::to_string(windowed.front()) +
            (windowed.size() > 1 ? " and " + std::to_string(windowed.size() - 1) + " more"
                                 : std::string()) +
            " sliding-window layers; sutra runs " + c.model_type +
            " with full attention only (set use_sliding_window false if the model "
            "was trained without it)");
}

Status parse_eos(const nlohmann::json& j, const std::string& what, LlamaConfig& c) {
    auto it = j.find("eos_token_id");
    if (it == j.end() || it->is_null()) return {};
    if (it->is_array()) {
        for (const auto& e : *it) {
            if (!e.is_number_integer() || e.get<int64_t>() < 0 ||
                e.get<int64_t>() >= c.vocab_size) {
                return field_error(what, "eos_token_id",
                                   "must hold token ids in [0, vocab_size); found " + e.dump());
            }
            c.eos_token_ids.push_back(e.get<int64_t>());
        }
        return {};
    }
    SUTRA_ASSIGN(int64_t eos, get_int(j, "eos_token_id", what, 0, c.vocab_size - 1));
    c.eos_token_ids.push_back(eos);
    return {};
}

}  // namespace

Result<LlamaConfig> parse_llama_config(const nlohmann::json& j, const std::string& what) {
    if (!j.is_object()) return make_error(Errc::bad_format, what + ": must be a JSON object");
    LlamaConfig c;
    SUTRA_ASSIGN(c.model_type, get_string(j, "model_type", what, std::nullopt));
    const LlamaArchitecture* family = nullptr;
    for (const auto& f : kLlamaArchitectures)
        if (c.model_type == f.model_type) family = &f;
    if (!family) {
        return make_error(Errc::unsupported, what + ": model_type \"" + c.model_type +
                                                 "\" is not supported; sutra runs the Llama "
                                                 "family: " +
                                                 kSupportedArchitectures);
    }
    SUTRA_TRY(check_architectures(j, what, *family));
    if (auto q = j.find("quantization_config"); q != j.end() && !q->is_null()) {
        std::string method = "unknown";
        if (q->is_object() && q->contains("quant_method") && (*q)["quant_method"].is_string())
            method = (*q)["quant_method"].get<std::string>();
        return make_error(Errc::unsupported,
                          what + ": the checkpoint is already quantized (quantization_config, " +
                              "quant_method " + method +
                              "); sutra needs the full-precision (F32/F16/BF16) checkpoint");
    }
    SUTRA_ASSIGN(std::string act, get_string(j, "hidden_act", what, std::string("silu")));
    if (act != "silu") {
        return make_error(Errc::unsupported,
                          what + ": hidden_act \"" + act + "\" is not supported (only silu)");
    }
    SUTRA_ASSIGN(bool mlp_bias, get_bool(j, "mlp_bias", what, false));
    if (mlp_bias) {
        return make_error(Errc::unsupported,
                          what + ": mlp_bias true is not supported (only MLPs without biases)");
    }

    SUTRA_ASSIGN(c.hidden_size, get_int(j, "hidden_size", what, 1, kMaxDim));
    SUTRA_ASSIGN(c.intermediate_size, get_int(j, "intermediate_size", what, 1, kMaxDim));
    SUTRA_ASSIGN(c.num_hidden_layers, get_int(j, "num_hidden_layers", what, 1, kMaxLayers));
    SUTRA_ASSIGN(c.num_attention_heads, get_int(j, "num_attention_heads", what, 1, kMaxHeads));
    SUTRA_ASSIGN(c.num_key_value_heads,
                 get_int(j, "num_key_value_heads", what, 1, kMaxHeads, c.num_attention_heads));
    if (c.num_attention_heads % c.num_key_value_heads != 0) {
        return make_error(Errc::invalid_argument,
                          what + ": num_attention_heads (" + std::to_string(c.num_attention_heads) +
                              ") is not a multiple of num_key_value_heads (" +
                              std::to_string(c.num_key_value_heads) + ")");
    }
    const bool qwen3 = c.model_type == "qwen3";
    if (auto hd = j.find("head_dim"); !qwen3 && (hd == j.end() || hd->is_null())) {
        if (c.hidden_size % c.num_attention_heads != 0) {
            return make_error(Errc::invalid_argument,
                              what + ": hidden_size (" + std::to_string(c.hidden_size) +
                                  ") is not a multiple of num_attention_heads (" +
                                  std::to_string(c.num_attention_heads) +
                                  ") and head_dim is not given");
        }
    }
    // transformers' Qwen3Config defaults head_dim to 128, the others to hidden / heads.
    const int64_t default_head_dim = qwen3 ? 128 : c.hidden_size / c.num_attention_heads;
    SUTRA_ASSIGN(c.head_dim, get_int(j, "head_dim", what, 2, kMaxDim, default_head_dim));
    if (c.head_dim % 2 != 0) {
        return make_error(Errc::invalid_argument, what + ": head_dim (" +
                                                      std::to_string(c.head_dim) +
                                                      ") must be even for rotary embeddings");
    }
    SUTRA_ASSIGN(c.vocab_size, get_int(j, "vocab_size", what, 1, kMaxVocab));
    SUTRA_ASSIGN(c.max_position_embeddings,
                 get_int(j, "max_position_embeddings", what, 1, int64_t{1} << 40, int64_t{0}));
    SUTRA_ASSIGN(c.rms_norm_eps, get_double(j, "rms_norm_eps", what, std::nullopt, 0.0, 1.0));
    SUTRA_TRY(parse_rope(j, what, c));
    SUTRA_ASSIGN(c.tie_word_embeddings, get_bool(j, "tie_word_embeddings", what, false));

    // Biases and norms exactly as transformers builds each family's attention.
    SUTRA_ASSIGN(bool attention_bias, get_bool(j, "attention_bias", what, false));
    if (c.model_type == "qwen2") {
        c.attention_bias = true;  // Qwen2Attention: q/k/v always biased, o never
    } else if (c.model_type == "llama" || qwen3) {
        c.attention_bias = attention_bias;
        c.o_bias = attention_bias;
    }  // mistral: no biases (MistralAttention ignores attention_bias)
    c.qk_norm = qwen3;

    if (c.model_type == "mistral") {
        // MistralConfig: absent means 4096, null means full attention.
        auto w = j.find("sliding_window");
        if (w == j.end()) {
            c.sliding_window = 4096;
        } else if (!w->is_null()) {
            SUTRA_ASSIGN(c.sliding_window, get_int(j, "sliding_window", what, 1, int64_t{1} << 40));
        }
    } else if (c.model_type == "qwen2" || qwen3) {
        SUTRA_TRY(check_qwen_window(j, what, c));
    }

    SUTRA_ASSIGN(c.bos_token_id,
                 get_int(j, "bos_token_id", what, 0, c.vocab_size - 1, int64_t{-1}));
    SUTRA_TRY(parse_eos(j, what, c));
    return c;
}

Result<LlamaConfig> read_llama_config(const std::filesystem::path& path) {
    std::error_code ec;
    std::filesystem::path file = path;
    if (std::filesystem::is_directory(path, ec)) file = path / "config.json";
    if (!std::filesystem::exists(file, ec)) {
        return make_error(
            Errc::not_found,
            file.string() + ": not found; a Hugging Face model folder needs its config.json");
    }
    SUTRA_ASSIGN(nlohmann::json j, io::read_strict_json_file(file.string()));
    return parse_llama_config(j, file.string());
}

}  // namespace sutra::model
