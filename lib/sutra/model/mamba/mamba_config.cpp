#include "sutra/model/mamba/mamba_config.hpp"

#include <cmath>
#include <optional>

namespace sutra::model::mamba {
namespace {

constexpr int64_t kMaxDim = int64_t{1} << 20;  // hidden, inner, state, conv, dt_rank
constexpr int64_t kMaxVocab = int64_t{1} << 24;
constexpr int64_t kMaxLayers = 4096;

using Shape = std::vector<uint64_t>;

Error field_error(std::string_view field, const std::string& problem) {
    return make_error(Errc::bad_format,
                      "config.json: field \"" + std::string(field) + "\" " + problem);
}

// An integer field in [lo, hi]; absent or null: `fallback`, or an error when there is none.
Result<int64_t> get_int(const nlohmann::json& j, std::string_view key, int64_t lo, int64_t hi,
                        std::optional<int64_t> fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        if (fallback) return *fallback;
        return field_error(key, "is missing; a Mamba config.json must define it");
    }
    if (!it->is_number_integer()) return field_error(key, "is " + it->dump() + ", not an integer");
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(hi))
        return field_error(key, "is " + it->dump() + ", above the limit " + std::to_string(hi));
    const auto v = it->get<int64_t>();
    if (v < lo || v > hi) {
        return field_error(key, "is " + std::to_string(v) + ", outside [" + std::to_string(lo) +
                                    ", " + std::to_string(hi) + "]");
    }
    return v;
}

Result<bool> get_bool(const nlohmann::json& j, std::string_view key, bool fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) return field_error(key, "is " + it->dump() + ", not true or false");
    return it->get<bool>();
}

Result<double> get_eps(const nlohmann::json& j, std::string_view key, double fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_number() || !std::isfinite(it->get<double>()) || !(it->get<double>() > 0.0) ||
        !(it->get<double>() < 1.0))
        return field_error(key, "is " + it->dump() + ", not a number in (0, 1)");
    return it->get<double>();
}

// dt_rank / time_step_rank: an integer, or "auto" for ceil(hidden / 16).
Result<int64_t> get_rank(const nlohmann::json& j, std::string_view key, int64_t hidden) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null() || (it->is_string() && it->get<std::string>() == "auto"))
        return (hidden + 15) / 16;
    if (it->is_string())
        return field_error(key, "is " + it->dump() + ", not \"auto\" or an integer");
    return get_int(j, key, 1, kMaxDim, std::nullopt);
}

// bos_token_id / eos_token_id (one id or a list): ids below `vocab`.
Result<std::vector<int32_t>> get_ids(const nlohmann::json& j, std::string_view key, int64_t vocab,
                                     int32_t fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::vector<int32_t>{fallback};
    std::vector<nlohmann::json> items;
    if (it->is_array()) {
        items.assign(it->begin(), it->end());
    } else {
        items.push_back(*it);
    }
    std::vector<int32_t> ids;
    for (const auto& v : items) {
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= vocab)
            return field_error(key, "is " + it->dump() + ", not a token id below the vocabulary " +
                                        std::to_string(vocab) + " of the weights");
        ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
    if (ids.empty()) return field_error(key, "is an empty list");
    return ids;
}

Result<Shape> shape_of(const WeightSource& w, const std::string& name, const std::string& why) {
    if (!w.has(name))
        return make_error(Errc::not_found, "tensor '" + name + "' is missing; " + why);
    return w.shape(name);
}

Error bad_shape(const std::string& name, const Shape& got, const std::string& expected) {
    return make_error(Errc::bad_format, "tensor '" + name + "' has shape " + shape_str(got) +
                                            ", expected " + expected);
}

bool dim_ok(uint64_t d, int64_t max) {
    return d > 0 && d <= static_cast<uint64_t>(max);
}

int64_t count_layers(const WeightSource& w) {
    int64_t n = 0;
    while (n < kMaxLayers &&
           w.has(MambaConfig::layer_tensor(static_cast<int>(n), "mixer.in_proj.weight")))
        ++n;
    return n;
}

// Sizes and conventions from the tensors: block 0 and the embedding.
Result<MambaConfig> from_tensors(const WeightSource& w, MambaConfig c) {
    const std::string why = "every Mamba block has it";
    const std::string in = MambaConfig::layer_tensor(0, "mixer.in_proj.weight");
    SUTRA_ASSIGN(Shape is, shape_of(w, in, why));
    if (is.size() != 2 || is[0] % 2 || !dim_ok(is[0] / 2, kMaxDim) ||
        is[1] != static_cast<uint64_t>(c.hidden))
        return bad_shape(in, is, "[2 * d_inner, " + std::to_string(c.hidden) + "]");
    c.inner = static_cast<int64_t>(is[0] / 2);
    const std::string cw = MambaConfig::layer_tensor(0, "mixer.conv1d.weight");
    SUTRA_ASSIGN(Shape cs, shape_of(w, cw, why));
    if (cs.size() != 3 || cs[0] != is[0] / 2 || cs[1] != 1 || !dim_ok(cs[2], kMaxDim))
        return bad_shape(cw, cs, "[" + std::to_string(c.inner) + ", 1, d_conv]");
    c.conv = static_cast<int64_t>(cs[2]);
    const std::string al = MambaConfig::layer_tensor(0, "mixer.A_log");
    SUTRA_ASSIGN(Shape as, shape_of(w, al, why));
    if (as.size() != 2 || as[0] != is[0] / 2 || !dim_ok(as[1], kMaxDim))
        return bad_shape(al, as, "[" + std::to_string(c.inner) + ", d_state]");
    c.state = static_cast<int64_t>(as[1]);
    const std::string dt = MambaConfig::layer_tensor(0, "mixer.dt_proj.weight");
    SUTRA_ASSIGN(Shape ds, shape_of(w, dt, why));
    if (ds.size() != 2 || ds[0] != is[0] / 2 || !dim_ok(ds[1], kMaxDim))
        return bad_shape(dt, ds, "[" + std::to_string(c.inner) + ", dt_rank]");
    c.dt_rank = static_cast<int64_t>(ds[1]);
    c.bias = w.has(MambaConfig::layer_tensor(0, "mixer.in_proj.bias"));
    c.conv_bias = w.has(MambaConfig::layer_tensor(0, "mixer.conv1d.bias"));
    c.tied = !w.has("lm_head.weight");
    c.layers = count_layers(w);
    c.source = "block 0's tensors";
    return c;
}

Status parse_hugging_face(const nlohmann::json& j, MambaConfig& c) {
    if (auto it = j.find("hidden_act"); it != j.end() && !it->is_null()) {
        if (!it->is_string() ||
            (it->get<std::string>() != "silu" && it->get<std::string>() != "swish"))
            return make_error(Errc::unsupported, "config.json: hidden_act " + it->dump() +
                                                     " is not supported (Mamba-1 uses \"silu\")");
    }
    SUTRA_ASSIGN(c.hidden, get_int(j, "hidden_size", 1, kMaxDim, std::nullopt));
    SUTRA_ASSIGN(c.layers, get_int(j, "num_hidden_layers", 1, kMaxLayers - 1, std::nullopt));
    SUTRA_ASSIGN(c.vocab, get_int(j, "vocab_size", 1, kMaxVocab, 50280));
    SUTRA_ASSIGN(c.state, get_int(j, "state_size", 1, kMaxDim, 16));
    SUTRA_ASSIGN(c.conv, get_int(j, "conv_kernel", 1, kMaxDim, 4));
    SUTRA_ASSIGN(const int64_t expand, get_int(j, "expand", 1, kMaxDim, 2));
    SUTRA_ASSIGN(c.inner, get_int(j, "intermediate_size", 1, kMaxDim, expand * c.hidden));
    SUTRA_ASSIGN(c.dt_rank, get_rank(j, "time_step_rank", c.hidden));
    SUTRA_ASSIGN(c.eps, get_eps(j, "layer_norm_epsilon", 1e-5));
    SUTRA_ASSIGN(c.bias, get_bool(j, "use_bias", false));
    SUTRA_ASSIGN(c.conv_bias, get_bool(j, "use_conv_bias", true));
    SUTRA_ASSIGN(c.tied, get_bool(j, "tie_word_embeddings", true));
    SUTRA_ASSIGN(std::vector<int32_t> bos, get_ids(j, "bos_token_id", c.vocab, 0));
    if (bos.size() != 1) return field_error("bos_token_id", "must be one id");
    c.bos_id = bos[0];
    SUTRA_ASSIGN(c.eos_ids, get_ids(j, "eos_token_id", c.vocab, 0));
    return {};
}

Status parse_original(const nlohmann::json& j, MambaConfig& c) {
    static const nlohmann::json kEmpty = nlohmann::json::object();
    const nlohmann::json* ssm = &kEmpty;
    if (auto it = j.find("ssm_cfg"); it != j.end() && !it->is_null()) {
        if (!it->is_object()) return field_error("ssm_cfg", "must be an object");
        ssm = &*it;
    }
    if (auto it = ssm->find("layer"); it != ssm->end() && !it->is_null()) {
        if (!it->is_string() || it->get<std::string>() != "Mamba1")
            return make_error(Errc::unsupported,
                              "config.json: ssm_cfg.layer is " + it->dump() +
                                  "; sutra runs Mamba-1 only (\"Mamba1\"), not Mamba-2");
    }
    if (auto it = j.find("attn_layer_idx"); it != j.end() && !it->is_null()) {
        if (!it->is_array() || !it->empty())
            return make_error(Errc::unsupported,
                              "config.json: attn_layer_idx " + it->dump() +
                                  ": hybrid Mamba models with attention layers are not supported");
    }
    SUTRA_ASSIGN(const int64_t d_mlp, get_int(j, "d_intermediate", 0, kMaxDim, 0));
    if (d_mlp != 0)
        return make_error(Errc::unsupported,
                          "config.json: d_intermediate " + std::to_string(d_mlp) +
                              ": Mamba blocks followed by an MLP are not supported (only 0)");
    SUTRA_ASSIGN(const bool rms, get_bool(j, "rms_norm", true));
    if (!rms)
        return make_error(Errc::unsupported,
                          "config.json: rms_norm false (LayerNorm) is not supported; sutra runs "
                          "Mamba-1 with RMSNorm");
    SUTRA_ASSIGN(c.hidden, get_int(j, "d_model", 1, kMaxDim, std::nullopt));
    SUTRA_ASSIGN(c.layers, get_int(j, "n_layer", 1, kMaxLayers - 1, std::nullopt));
    SUTRA_ASSIGN(const int64_t vocab, get_int(j, "vocab_size", 1, kMaxVocab, 50277));
    SUTRA_ASSIGN(const int64_t pad, get_int(j, "pad_vocab_size_multiple", 1, kMaxVocab, 8));
    c.vocab = (vocab + pad - 1) / pad * pad;
    SUTRA_ASSIGN(c.state, get_int(*ssm, "d_state", 1, kMaxDim, 16));
    SUTRA_ASSIGN(c.conv, get_int(*ssm, "d_conv", 1, kMaxDim, 4));
    SUTRA_ASSIGN(const int64_t expand, get_int(*ssm, "expand", 1, kMaxDim, 2));
    c.inner = expand * c.hidden;
    if (c.inner > kMaxDim) return field_error("ssm_cfg.expand", "makes d_inner too large");
    SUTRA_ASSIGN(c.dt_rank, get_rank(*ssm, "dt_rank", c.hidden));
    SUTRA_ASSIGN(c.conv_bias, get_bool(*ssm, "conv_bias", true));
    SUTRA_ASSIGN(c.bias, get_bool(*ssm, "bias", false));
    SUTRA_ASSIGN(c.eps, get_eps(j, "norm_epsilon", 1e-5));
    SUTRA_ASSIGN(c.tied, get_bool(j, "tie_embeddings", true));
    c.bos_id = 0;
    c.eos_ids = {0};
    return {};
}

}  // namespace

std::string shape_str(const std::vector<uint64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i)
        out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

std::string MambaConfig::embedding_tensor() const {
    return naming == Naming::hugging_face ? "backbone.embeddings.weight"
                                          : "backbone.embedding.weight";
}

std::string MambaConfig::head_tensor() const {
    return tied ? embedding_tensor() : "lm_head.weight";
}

std::string MambaConfig::layer_tensor(int layer, std::string_view suffix) {
    return "backbone.layers." + std::to_string(layer) + "." + std::string(suffix);
}

bool is_original_config(const nlohmann::json& config) {
    return config.is_object() && !config.contains("model_type") && config.contains("d_model") &&
           config.contains("n_layer");
}

Result<MambaConfig> detect_config(const nlohmann::json* config, const WeightSource& weights) {
    MambaConfig c;
    const bool hf = weights.has("backbone.embeddings.weight");
    const bool orig = weights.has("backbone.embedding.weight");
    if (hf && orig)
        return make_error(Errc::bad_format,
                          "the weights hold both 'backbone.embeddings.weight' (Hugging Face "
                          "names) and 'backbone.embedding.weight' (original names); keep one");
    if (!hf && !orig)
        return make_error(Errc::not_found,
                          "no embedding: neither 'backbone.embeddings.weight' (Hugging Face "
                          "MambaForCausalLM) nor 'backbone.embedding.weight' (state-spaces "
                          "mamba) is in the weights");
    c.naming = hf ? Naming::hugging_face : Naming::original;
    if (weights.has(MambaConfig::layer_tensor(0, "mixer.dt_bias")) ||
        (weights.has(MambaConfig::layer_tensor(0, "mixer.in_proj.weight")) &&
         !weights.has(MambaConfig::layer_tensor(0, "mixer.x_proj.weight")) &&
         weights.has(MambaConfig::layer_tensor(0, "mixer.norm.weight"))))
        return make_error(Errc::unsupported,
                          "the tensors are Mamba-2's (mixer.dt_bias, mixer.norm, no x_proj); "
                          "sutra runs Mamba-1 only");
    const std::string emb = c.embedding_tensor();
    SUTRA_ASSIGN(Shape es, weights.shape(emb));
    if (es.size() != 2 || !dim_ok(es[0], kMaxVocab) || !dim_ok(es[1], kMaxDim))
        return bad_shape(emb, es, "[vocab, hidden]");

    if (!config) {
        c.vocab = static_cast<int64_t>(es[0]);
        c.hidden = static_cast<int64_t>(es[1]);
        SUTRA_ASSIGN(c, from_tensors(weights, c));
        if (c.layers >= kMaxLayers)
            return make_error(Errc::too_large,
                              "more than " + std::to_string(kMaxLayers - 1) + " Mamba blocks");
        return c;
    }
    if (!config->is_object()) return make_error(Errc::bad_format, "config.json is not an object");
    if (is_original_config(*config)) {
        SUTRA_TRY(parse_original(*config, c));
    } else {
        SUTRA_TRY(parse_hugging_face(*config, c));
    }
    if (es[0] != static_cast<uint64_t>(c.vocab) || es[1] != static_cast<uint64_t>(c.hidden)) {
        return make_error(Errc::bad_format,
                          "tensor '" + emb + "' has shape " + shape_str(es) +
                              " but config.json implies [" + std::to_string(c.vocab) + ", " +
                              std::to_string(c.hidden) +
                              "] (vocabulary, hidden size): config.json and the weights do not "
                              "belong together");
    }
    const std::string next =
        MambaConfig::layer_tensor(static_cast<int>(c.layers), "mixer.in_proj.weight");
    if (weights.has(next)) {
        return make_error(Errc::bad_format,
                          "config.json says " + std::to_string(c.layers) +
                              " layers but the weights have '" + next +
                              "': config.json and the weights do not belong together");
    }
    return c;
}

}  // namespace sutra::model::mamba
