#include "sutra/model/mamba/mamba_tensors.hpp"

namespace sutra::model::mamba {
namespace {

using Shape = std::vector<uint64_t>;

uint64_t numel(const Shape& s) {
    uint64_t n = 1;
    for (uint64_t d : s)
        n *= d;
    return n;
}

std::string disagreement(const MambaConfig& c) {
    return c.source == "config.json" ? "config.json and the weights do not belong together"
                                     : "the blocks of the checkpoint differ in size";
}

Status check_one(const MambaConfig& c, const WeightSource& w, const std::string& name,
                 const Shape& expected) {
    if (!w.has(name)) {
        return make_error(Errc::not_found,
                          "tensor '" + name + "' is missing; a Mamba model with " +
                              (c.source == "config.json" ? std::string("this config.json")
                                                         : "the sizes of " + c.source) +
                              " needs it");
    }
    SUTRA_ASSIGN(Shape got, w.shape(name));
    if (got != expected) {
        return make_error(Errc::bad_format, "tensor '" + name + "' has shape " + shape_str(got) +
                                                " but " + c.source + " implies " +
                                                shape_str(expected) + " (" + disagreement(c) + ")");
    }
    return {};
}

}  // namespace

std::vector<TensorSpec> block_tensor_specs(const MambaConfig& c) {
    const int64_t H = c.hidden, I = c.inner;
    std::vector<TensorSpec> s;
    s.push_back({"norm.weight", dims(H)});
    s.push_back({"mixer.in_proj.weight", dims(2 * I, H)});
    if (c.bias) s.push_back({"mixer.in_proj.bias", dims(2 * I)});
    s.push_back(
        {"mixer.conv1d.weight", {static_cast<uint64_t>(I), 1, static_cast<uint64_t>(c.conv)}});
    if (c.conv_bias) s.push_back({"mixer.conv1d.bias", dims(I)});
    s.push_back({"mixer.x_proj.weight", dims(c.x_proj_out(), I)});
    s.push_back({"mixer.dt_proj.weight", dims(I, c.dt_rank)});
    s.push_back({"mixer.dt_proj.bias", dims(I)});
    s.push_back({"mixer.A_log", dims(I, c.state)});
    s.push_back({"mixer.D", dims(I)});
    s.push_back({"mixer.out_proj.weight", dims(H, I)});
    if (c.bias) s.push_back({"mixer.out_proj.bias", dims(H)});
    return s;
}

Status check_tensors(const MambaConfig& c, const WeightSource& w) {
    SUTRA_TRY(check_one(c, w, c.embedding_tensor(), dims(c.vocab, c.hidden)));
    const std::vector<TensorSpec> specs = block_tensor_specs(c);
    for (int l = 0; l < c.layers; ++l) {
        for (const TensorSpec& s : specs)
            SUTRA_TRY(check_one(c, w, MambaConfig::layer_tensor(l, s.name), s.shape));
        struct Excluded {
            const char* name;
            bool excluded;
            const char* field;
        };
        const Excluded excluded[] = {{"mixer.in_proj.bias", !c.bias, "use_bias"},
                                     {"mixer.out_proj.bias", !c.bias, "use_bias"},
                                     {"mixer.conv1d.bias", !c.conv_bias, "use_conv_bias"}};
        for (const Excluded& e : excluded) {
            const std::string name = MambaConfig::layer_tensor(l, e.name);
            if (e.excluded && w.has(name)) {
                return make_error(Errc::bad_format,
                                  "tensor '" + name + "' is in the weights, but " + c.source +
                                      " says " + e.field + " false (" + disagreement(c) +
                                      "; transformers would ignore the tensor)");
            }
        }
    }
    SUTRA_TRY(check_one(c, w, "backbone.norm_f.weight", dims(c.hidden)));
    if (!c.tied) {
        if (!w.has("lm_head.weight")) {
            return make_error(Errc::not_found,
                              "tensor 'lm_head.weight' is missing and config.json says the head "
                              "is not tied to the embedding; set tie_word_embeddings (Hugging "
                              "Face) / tie_embeddings (original) true if it is");
        }
        SUTRA_TRY(check_one(c, w, "lm_head.weight", dims(c.vocab, c.hidden)));
    }
    return {};
}

Result<Matrix> load_matrix_checked(const WeightSource& w, const std::string& name,
                                   const std::vector<uint64_t>& shape) {
    SUTRA_ASSIGN(Matrix m, w.load_matrix(name));
    if (m.numel() != numel(shape)) {
        return make_error(Errc::bad_format, "tensor '" + name + "' loaded " +
                                                std::to_string(m.numel()) + " values, expected " +
                                                shape_str(shape));
    }
    return m;
}

Result<std::vector<float>> load_checked(const WeightSource& w, const std::string& name,
                                        const std::vector<uint64_t>& shape) {
    SUTRA_ASSIGN(std::vector<float> v, w.load(name));
    if (v.size() != numel(shape)) {
        return make_error(Errc::bad_format, "tensor '" + name + "' loaded " +
                                                std::to_string(v.size()) + " values, expected " +
                                                shape_str(shape));
    }
    return v;
}

Result<BlockTensors> load_block_tensors(const MambaConfig& c, const WeightSource& w, int layer) {
    if (layer < 0 || layer >= c.layers) {
        return make_error(
            Errc::invalid_argument,
            "layer " + std::to_string(layer) + " is outside [0, " + std::to_string(c.layers) + ")");
    }
    BlockTensors b;
    b.layer = layer;
    for (const TensorSpec& s : block_tensor_specs(c)) {
        const std::string name = MambaConfig::layer_tensor(layer, s.name);
        // The four projections are read only by their products: they may stay packed.
        const bool linear = s.name.ends_with("_proj.weight");
        if (linear) {
            SUTRA_ASSIGN(b.tensors[s.name], load_matrix_checked(w, name, s.shape));
        } else {
            SUTRA_ASSIGN(b.tensors[s.name], load_checked(w, name, s.shape));
        }
    }
    return b;
}

Status check_block_tensors(const MambaConfig& c, const BlockTensors& b) {
    if (b.layer < 0 || b.layer >= c.layers) {
        return make_error(
            Errc::invalid_argument,
            "run_block: block tensors without a valid layer (" + std::to_string(b.layer) + ")");
    }
    const std::vector<TensorSpec> specs = block_tensor_specs(c);
    for (const TensorSpec& s : specs) {
        const Matrix* v = b.find(s.name);
        if (!v || v->numel() != numel(s.shape)) {
            return make_error(Errc::invalid_argument,
                              "run_block: layer " + std::to_string(b.layer) + " tensor '" + s.name +
                                  "' " +
                                  (v ? "has " + std::to_string(v->numel()) + " values"
                                     : std::string("is missing")) +
                                  ", expected " + shape_str(s.shape));
        }
    }
    if (b.tensors.size() != specs.size()) {
        for (const auto& [name, v] : b.tensors) {
            bool known = false;
            for (const TensorSpec& s : specs)
                known = known || s.name == name;
            if (!known) {
                return make_error(Errc::invalid_argument,
                                  "run_block: layer " + std::to_string(b.layer) + " has tensor '" +
                                      name + "', which this Mamba model does not use");
            }
        }
    }
    return {};
}

}  // namespace sutra::model::mamba
