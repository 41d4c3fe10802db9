#include "sutra/model/rwkv/rwkv_config.hpp"

#include <optional>

#include "sutra/model/rwkv/rwkv_names.hpp"

namespace sutra::model::rwkv {
namespace {

constexpr int64_t kMaxLayers = 4096;

using Shape = std::vector<uint64_t>;

Result<Shape> shape_of(const WeightSource& w, const std::string& name, const std::string& why) {
    if (!w.has(name)) {
        return make_error(Errc::not_found, "tensor '" + name + "' is missing; " + why);
    }
    return w.shape(name);
}

Error bad_shape(const std::string& name, const Shape& got, const std::string& expected) {
    return make_error(Errc::bad_format, "tensor '" + name + "' has shape " + shape_str(got) +
                                            ", expected " + expected);
}

// config.json field `key`: absent or null -> nullopt; an integer -> its value; else an error.
Result<std::optional<int64_t>> int_field(const nlohmann::json& c, const char* key) {
    auto it = c.find(key);
    if (it == c.end() || it->is_null()) return std::optional<int64_t>{};
    if (!it->is_number_integer()) {
        return make_error(Errc::bad_format, std::string("config.json: ") + key + " is " +
                                                it->dump() + ", not an integer");
    }
    return std::optional<int64_t>{it->get<int64_t>()};
}

Status agree(const nlohmann::json& c, const char* key, int64_t from_tensors,
             const std::string& tensor, const Shape& shape) {
    SUTRA_ASSIGN(std::optional<int64_t> v, int_field(c, key));
    if (v && *v != from_tensors) {
        return make_error(Errc::bad_format,
                          "config.json says " + std::string(key) + " " + std::to_string(*v) +
                              " but tensor '" + tensor + "' has shape " + shape_str(shape) + " (" +
                              std::to_string(from_tensors) +
                              "): config.json and the weights do not belong together");
    }
    return {};
}

int64_t count_layers(const WeightSource& w, const Names& names) {
    int64_t n = 0;
    while (n < kMaxLayers && w.has(names.block(static_cast<int>(n), "ln1.weight")))
        ++n;
    return n;
}

// [H, S, 1] or [H, S] -> (H, S), checked against C.
Status heads_from(const Shape& s, const std::string& name, int64_t C, bool allow_2d,
                  RwkvConfig& cfg) {
    const bool three = s.size() == 3 && s[2] == 1;
    const bool two = allow_2d && s.size() == 2;
    if ((!three && !two) || s[0] == 0 || s[1] == 0 || s[0] * s[1] != static_cast<uint64_t>(C)) {
        return bad_shape(name, s,
                         std::string(allow_2d ? "[H, S, 1] or [H, S]" : "[H, S, 1]") +
                             " with H * S = " + std::to_string(C));
    }
    cfg.heads = static_cast<int64_t>(s[0]);
    cfg.head_size = static_cast<int64_t>(s[1]);
    return {};
}

// A low-rank matrix [rank, C] (down) whose rank is read from it.
Result<int64_t> rank_of(const WeightSource& w, const std::string& name, int64_t C, uint64_t divisor,
                        const std::string& why) {
    SUTRA_ASSIGN(Shape s, shape_of(w, name, why));
    if (s.size() != 2 || s[1] != static_cast<uint64_t>(C) || s[0] == 0 || s[0] % divisor) {
        return bad_shape(name, s,
                         "[" + std::string(divisor > 1 ? std::to_string(divisor) + " * " : "") +
                             "rank, " + std::to_string(C) +
                             "] (rwkv.cpp's layout; a .pth converted otherwise needs "
                             "rwkv.cpp's convert_pytorch_to_ggml.py)");
    }
    return static_cast<int64_t>(s[0] / divisor);
}

Status detect_version(const WeightSource& w, const Names& names, RwkvConfig& cfg) {
    auto has0 = [&](const char* n) { return w.has(names.block(0, n)); };
    const int64_t C = cfg.hidden;
    const std::string why = "the RWKV version its block 0 has needs it";
    if (has0("att.x_rwkvag")) {
        cfg.version = Version::v7;
        const std::string rk = names.block(0, "att.r_k");
        SUTRA_ASSIGN(Shape s, shape_of(w, rk, why));
        SUTRA_TRY(heads_from(s, rk, C, true, cfg));
        SUTRA_ASSIGN(cfg.w_rank, rank_of(w, names.block(0, "att.w1"), C, 1, why));
        SUTRA_ASSIGN(cfg.a_rank, rank_of(w, names.block(0, "att.a1"), C, 1, why));
        SUTRA_ASSIGN(cfg.g_rank, rank_of(w, names.block(0, "att.g1"), C, 1, why));
        if (cfg.layers > 1) {
            SUTRA_ASSIGN(cfg.v_rank, rank_of(w, names.block(1, "att.v1"), C, 1,
                                             "RWKV-7 blocks after the first need it"));
        }
        cfg.group_norm_eps = 64e-5;
        return {};
    }
    if (has0("att.x_r") || has0("att.k_k")) {
        return make_error(Errc::unsupported,
                          "RWKV-7 tensors in the BlinkDL .pth layout (separate x_r ... x_g, "
                          "low-rank matrices [C, rank]); convert the .pth with rwkv.cpp's "
                          "convert_pytorch_to_ggml.py, whose layout sutra reads");
    }
    if (has0("att.time_maa_x")) {
        cfg.version = Version::v6;
        const std::string fa = names.block(0, "att.time_faaaa");
        SUTRA_ASSIGN(Shape s, shape_of(w, fa, why));
        SUTRA_TRY(heads_from(s, fa, C, false, cfg));
        SUTRA_ASSIGN(cfg.mix_rank, rank_of(w, names.block(0, "att.time_maa_w1"), C, 5, why));
        SUTRA_ASSIGN(cfg.decay_rank, rank_of(w, names.block(0, "att.time_decay_w1"), C, 1, why));
        cfg.group_norm_eps = 64e-5;
        return {};
    }
    if (has0("att.ln_x.weight")) {
        if (!has0("att.gate.weight") || !has0("att.time_faaaa")) {
            return make_error(Errc::unsupported,
                              "RWKV v5.0 / v5.1 (ln_x without gate or time_faaaa) is not "
                              "supported; RWKV-4, 5.2, 6 and 7 are");
        }
        cfg.version = Version::v5_2;
        const std::string fa = names.block(0, "att.time_faaaa");
        SUTRA_ASSIGN(Shape s, shape_of(w, fa, why));
        SUTRA_TRY(heads_from(s, fa, C, true, cfg));
        const std::string td = names.block(0, "att.time_decay");
        SUTRA_ASSIGN(Shape d, shape_of(w, td, why));
        if (d != s) {
            return bad_shape(td, d, shape_str(s) + " (the shape of " + fa + ")");
        }
        cfg.raw_decay = s.size() == 2;  // rwkv.cpp's converter writes exp(-exp(raw)) [H, S, 1]
        cfg.group_norm_eps = 1e-5;      // rwkv.cpp's v5 graph: ggml_group_norm's epsilon
        return {};
    }
    if (has0("att.time_first") && has0("att.time_decay") && has0("att.time_mix_k")) {
        cfg.version = Version::v4;
        if (cfg.naming == Naming::hugging_face) {
            cfg.raw_decay = true;  // transformers applies -exp at run time
            return {};
        }
        const std::string mk = names.block(0, "att.time_mix_k");
        SUTRA_ASSIGN(Shape s, shape_of(w, mk, why));
        const Shape squeezed = {static_cast<uint64_t>(C)};
        const Shape pth = {1, 1, static_cast<uint64_t>(C)};
        if (s != squeezed && s != pth) {
            return bad_shape(
                mk, s,
                shape_str(squeezed) + " (rwkv.cpp) or " + shape_str(pth) + " (BlinkDL .pth)");
        }
        cfg.raw_decay = s == pth;  // rwkv.cpp's converter squeezes and writes -exp(raw)
        return {};
    }
    return make_error(Errc::bad_format, "block 0 has neither RWKV-4 (" +
                                            names.block(0, "att.time_first") + "), 5.2 (" +
                                            names.block(0, "att.ln_x.weight") + "), 6 (" +
                                            names.block(0, "att.time_maa_x") + ") nor 7 (" +
                                            names.block(0, "att.x_rwkvag") + ") tensors");
}

Status apply_config_json(const nlohmann::json& c, const WeightSource& w, const Names& names,
                         const Shape& emb_shape, RwkvConfig& cfg) {
    if (!c.is_object()) return make_error(Errc::bad_format, "config.json is not a JSON object");
    const std::string emb = names.global("emb.weight");
    SUTRA_TRY(agree(c, "vocab_size", cfg.vocab, emb, emb_shape));
    SUTRA_TRY(agree(c, "hidden_size", cfg.hidden, emb, emb_shape));
    const std::string key = names.block(0, "att.key.weight");
    SUTRA_ASSIGN(Shape ks, w.shape(key));
    SUTRA_TRY(agree(c, "attention_hidden_size", static_cast<int64_t>(ks[0]), key, ks));
    const std::string fk = names.block(0, "ffn.key.weight");
    SUTRA_ASSIGN(Shape fs, w.shape(fk));
    SUTRA_ASSIGN(std::optional<int64_t> inter, int_field(c, "intermediate_size"));
    if (!inter) inter = 4 * cfg.hidden;  // transformers' default
    if (*inter != cfg.ffn) {
        return make_error(Errc::bad_format,
                          "config.json implies intermediate_size " + std::to_string(*inter) +
                              " but tensor '" + fk + "' has shape " + shape_str(fs) +
                              ": config.json and the weights do not belong together");
    }
    SUTRA_ASSIGN(std::optional<int64_t> layers, int_field(c, "num_hidden_layers"));
    if (layers && *layers != cfg.layers) {
        return make_error(Errc::bad_format,
                          "config.json says num_hidden_layers " + std::to_string(*layers) +
                              " but the weights have blocks 0.." + std::to_string(cfg.layers - 1) +
                              " (" + names.block(static_cast<int>(cfg.layers), "ln1.weight") +
                              " is absent): config.json and the weights do not belong together");
    }
    if (auto it = c.find("layer_norm_epsilon"); it != c.end() && !it->is_null()) {
        if (!it->is_number() || !(it->get<double>() > 0.0) || !(it->get<double>() < 1.0)) {
            return make_error(Errc::bad_format, "config.json: layer_norm_epsilon is " + it->dump() +
                                                    ", not a number in (0, 1)");
        }
        cfg.ln_eps = it->get<double>();
    }
    SUTRA_ASSIGN(std::optional<int64_t> rescale, int_field(c, "rescale_every"));
    if (rescale && *rescale < 0) {
        return make_error(Errc::bad_format, "config.json: rescale_every is negative");
    }
    if (cfg.naming == Naming::hugging_face) cfg.rescale_every = rescale ? *rescale : 6;
    if (auto it = c.find("tie_word_embeddings"); it != c.end() && !it->is_null()) {
        if (!it->is_boolean()) {
            return make_error(Errc::bad_format, "config.json: tie_word_embeddings is " +
                                                    it->dump() + ", not true or false");
        }
        cfg.tied_head = it->get<bool>();
    }
    if (auto it = c.find("eos_token_id"); it != c.end() && !it->is_null()) {
        std::vector<nlohmann::json> ids;
        if (it->is_array()) {
            ids.assign(it->begin(), it->end());
        } else {
            ids.push_back(*it);
        }
        cfg.eos_ids.clear();
        for (const auto& id : ids) {
            if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
                id.get<int64_t>() >= cfg.vocab) {
                return make_error(Errc::bad_format, "config.json: eos_token_id " + it->dump() +
                                                        " is not a token id below vocab_size " +
                                                        std::to_string(cfg.vocab));
            }
            cfg.eos_ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
        }
    }
    return {};
}

}  // namespace

std::string shape_str(const std::vector<uint64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i)
        out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

std::string RwkvConfig::variant() const {
    switch (version) {
        case Version::v4:
            return "4";
        case Version::v5_2:
            return "5.2";
        case Version::v6:
            return "6";
        case Version::v7:
            return "7";
    }
    return "?";
}

Result<RwkvConfig> detect_config(const nlohmann::json* config, const WeightSource& weights) {
    RwkvConfig cfg;
    if (weights.has("emb.weight")) {
        cfg.naming = Naming::rwkv_cpp;
    } else if (weights.has("rwkv.embeddings.weight")) {
        cfg.naming = Naming::hugging_face;
        cfg.rescale_every = 6;  // transformers' RwkvConfig default
    } else {
        return make_error(Errc::not_found,
                          "no embedding: neither 'emb.weight' (rwkv.cpp / BlinkDL names) nor "
                          "'rwkv.embeddings.weight' (Hugging Face RwkvForCausalLM) is in the "
                          "weights");
    }
    const Names names(cfg.naming);
    const std::string emb = names.global("emb.weight");
    SUTRA_ASSIGN(Shape es, weights.shape(emb));
    if (es.size() != 2 || es[0] == 0 || es[1] == 0 || es[0] > (uint64_t{1} << 31) ||
        es[1] > (uint64_t{1} << 20)) {
        return bad_shape(emb, es, "[vocab, hidden]");
    }
    cfg.vocab = static_cast<int64_t>(es[0]);
    cfg.hidden = static_cast<int64_t>(es[1]);
    cfg.layers = count_layers(weights, names);
    if (cfg.layers == 0) {
        return make_error(Errc::not_found, "tensor '" + names.block(0, "ln1.weight") +
                                               "' is missing: the checkpoint has no RWKV blocks");
    }
    if (cfg.layers >= kMaxLayers) {
        return make_error(Errc::too_large,
                          "more than " + std::to_string(kMaxLayers - 1) + " RWKV blocks");
    }
    SUTRA_TRY(detect_version(weights, names, cfg));
    if (cfg.naming == Naming::hugging_face && cfg.version != Version::v4) {
        return make_error(Errc::unsupported,
                          "Hugging Face naming (rwkv.blocks.*) with RWKV v" + cfg.variant() +
                              " tensors: transformers' RwkvForCausalLM is RWKV-4; v5.2, 6 and "
                              "7 are read in rwkv.cpp naming (blocks.N.att.*)");
    }
    const std::string key = names.block(0, "att.key.weight");
    SUTRA_ASSIGN(Shape ks, shape_of(weights, key, "every RWKV block has it"));
    if (ks.size() != 2 || ks[0] != static_cast<uint64_t>(cfg.hidden) ||
        ks[1] != static_cast<uint64_t>(cfg.hidden)) {
        return make_error(Errc::unsupported,
                          "tensor '" + key + "' has shape " + shape_str(ks) + ", not [" +
                              std::to_string(cfg.hidden) + ", " + std::to_string(cfg.hidden) +
                              "]: an attention width other than the hidden size is not "
                              "supported");
    }
    const std::string fk = names.block(0, "ffn.key.weight");
    SUTRA_ASSIGN(Shape fs, shape_of(weights, fk, "every RWKV block has it"));
    if (fs.size() != 2 || fs[0] == 0 || fs[1] != static_cast<uint64_t>(cfg.hidden) ||
        fs[0] > (uint64_t{1} << 24)) {
        return bad_shape(fk, fs, "[ffn, " + std::to_string(cfg.hidden) + "]");
    }
    cfg.ffn = static_cast<int64_t>(fs[0]);
    cfg.eos_ids = {0};
    if (config) SUTRA_TRY(apply_config_json(*config, weights, names, es, cfg));
    const std::string head = names.global("head.weight");
    // transformers ties the head to the embedding when tie_word_embeddings says so, whatever
    // head.weight holds.
    if (!cfg.tied_head && !weights.has(head)) {
        return make_error(Errc::not_found, "tensor '" + head +
                                               "' is missing (and config.json does not set "
                                               "tie_word_embeddings)");
    }
    return cfg;
}

}  // namespace sutra::model::rwkv
