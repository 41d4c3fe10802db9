#include "sutra/model/rwkv/rwkv_tensors.hpp"

#include <cmath>

namespace sutra::model::rwkv {
namespace {

using Shape = std::vector<uint64_t>;

enum class Transform { none, neg_exp, exp_neg_exp };

struct TensorSpec {
    std::string name;  // in-block, rwkv.cpp naming
    Matrix BlockWeights::*field;
    std::vector<Shape> shapes;
    Transform transform = Transform::none;
};

std::string shapes_str(const std::vector<Shape>& shapes) {
    std::string s;
    for (size_t i = 0; i < shapes.size(); ++i)
        s += (i ? (i + 1 == shapes.size() ? " or " : ", ") : "") + shape_str(shapes[i]);
    return s;
}

std::vector<TensorSpec> block_specs(const RwkvConfig& c, int layer) {
    using B = BlockWeights;
    const int64_t C = c.hidden, F = c.ffn, H = c.heads, S = c.head_size;
    const std::vector<Shape> vec = {dims(C)};
    // Vectors whose stored shape says nothing about their meaning.
    const std::vector<Shape> any_vec = {dims(C), dims(1, C), dims(1, 1, C)};
    const std::vector<Shape> square = {dims(C, C)};
    std::vector<TensorSpec> s = {
        {"ln1.weight", &B::ln1_w, vec},
        {"ln1.bias", &B::ln1_b, vec},
        {"ln2.weight", &B::ln2_w, vec},
        {"ln2.bias", &B::ln2_b, vec},
        {"att.key.weight", &B::key, square},
        {"att.value.weight", &B::value, square},
        {"att.receptance.weight", &B::receptance, square},
        {"att.output.weight", &B::output, square},
        {"ffn.key.weight", &B::ffn_key, {dims(F, C)}},
        {"ffn.value.weight", &B::ffn_value, {dims(C, F)}},
    };
    auto add = [&](TensorSpec t) { s.push_back(std::move(t)); };
    // v4 / v5.2 time_mix: squeezed by rwkv.cpp's converter, [1, 1, C] in .pth and Hugging Face
    // files (and only then is time_decay raw).
    const std::vector<Shape> mix = {c.raw_decay ? dims(1, 1, C) : dims(C)};
    switch (c.version) {
        case Version::v4:
            add({"att.time_mix_k", &B::mix_k, mix});
            add({"att.time_mix_v", &B::mix_v, mix});
            add({"att.time_mix_r", &B::mix_r, mix});
            add({"att.time_first", &B::first, vec});
            add({"att.time_decay", &B::decay, vec,
                 c.raw_decay ? Transform::neg_exp : Transform::none});
            add({"ffn.time_mix_k", &B::ffn_mix_k, mix});
            add({"ffn.time_mix_r", &B::ffn_mix_r, mix});
            add({"ffn.receptance.weight", &B::ffn_receptance, square});
            break;
        case Version::v5_2: {
            const std::vector<Shape> hs = {c.raw_decay ? dims(H, S) : dims(H, S, 1)};
            add({"att.time_mix_k", &B::mix_k, mix});
            add({"att.time_mix_v", &B::mix_v, mix});
            add({"att.time_mix_r", &B::mix_r, mix});
            add({"att.time_mix_g", &B::mix_g, mix});
            add({"att.time_decay", &B::decay, hs,
                 c.raw_decay ? Transform::exp_neg_exp : Transform::none});
            add({"att.time_faaaa", &B::first, hs});
            add({"att.ln_x.weight", &B::ln_x_w, vec});
            add({"att.ln_x.bias", &B::ln_x_b, vec});
            add({"att.gate.weight", &B::gate, square});
            add({"ffn.time_mix_k", &B::ffn_mix_k, mix});
            add({"ffn.time_mix_r", &B::ffn_mix_r, mix});
            add({"ffn.receptance.weight", &B::ffn_receptance, square});
            break;
        }
        case Version::v6:
            add({"att.time_maa_x", &B::mix_x, any_vec});
            add({"att.time_maa_w", &B::mix_w, any_vec});
            add({"att.time_maa_k", &B::mix_k, any_vec});
            add({"att.time_maa_v", &B::mix_v, any_vec});
            add({"att.time_maa_r", &B::mix_r, any_vec});
            add({"att.time_maa_g", &B::mix_g, any_vec});
            add({"att.time_maa_w1", &B::mix_w1, {dims(5 * c.mix_rank, C)}});
            add({"att.time_maa_w2", &B::mix_w2, {dims(5, C, c.mix_rank)}});
            add({"att.time_decay_w1", &B::decay_w1, {dims(c.decay_rank, C)}});
            add({"att.time_decay_w2", &B::decay_w2, {dims(C, c.decay_rank)}});
            add({"att.time_decay", &B::decay, {dims(H, S, 1), dims(C), dims(1, 1, C)}});
            add({"att.time_faaaa", &B::first, {dims(H, S, 1)}});
            add({"att.ln_x.weight", &B::ln_x_w, vec});
            add({"att.ln_x.bias", &B::ln_x_b, vec});
            add({"att.gate.weight", &B::gate, square});
            add({"ffn.time_maa_k", &B::ffn_mix_k, any_vec});
            add({"ffn.time_maa_r", &B::ffn_mix_r, any_vec});
            add({"ffn.receptance.weight", &B::ffn_receptance, square});
            break;
        case Version::v7:
            add({"att.x_rwkvag", &B::x_rwkvag, {dims(6, 1, C), dims(6, C)}});
            add({"att.w0", &B::w0, any_vec});
            add({"att.w1", &B::w1, {dims(c.w_rank, C)}});
            add({"att.w2", &B::w2, {dims(C, c.w_rank)}});
            add({"att.a0", &B::a0, any_vec});
            add({"att.a1", &B::a1, {dims(c.a_rank, C)}});
            add({"att.a2", &B::a2, {dims(C, c.a_rank)}});
            if (layer > 0) {
                add({"att.v0", &B::v0, any_vec});
                add({"att.v1", &B::v1, {dims(c.v_rank, C)}});
                add({"att.v2", &B::v2, {dims(C, c.v_rank)}});
            }
            add({"att.g1", &B::g1, {dims(c.g_rank, C)}});
            add({"att.g2", &B::g2, {dims(C, c.g_rank)}});
            add({"att.k_k", &B::k_k, any_vec});
            add({"att.k_a", &B::k_a, any_vec});
            add({"att.r_k", &B::r_k, {dims(H, S)}});
            add({"att.ln_x.weight", &B::ln_x_w, vec});
            add({"att.ln_x.bias", &B::ln_x_b, vec});
            add({"ffn.x_k", &B::ffn_mix_k, any_vec});
            break;
    }
    return s;
}

std::vector<std::pair<std::string, std::vector<Shape>>> global_specs(const RwkvConfig& c,
                                                                     const Names& names) {
    const std::vector<Shape> vec = {dims(c.hidden)};
    std::vector<std::pair<std::string, std::vector<Shape>>> g = {
        {names.global("emb.weight"), {dims(c.vocab, c.hidden)}},
        {names.block(0, "ln0.weight"), vec},
        {names.block(0, "ln0.bias"), vec},
        {names.global("ln_out.weight"), vec},
        {names.global("ln_out.bias"), vec},
    };
    if (!c.tied_head) g.push_back({names.global("head.weight"), {dims(c.vocab, c.hidden)}});
    return g;
}

// The BlockTensors key of a block tensor: its in-block name, "<name>.weight" for the low-rank
// matrices stored without the suffix.
std::string key_of(const Names& names, const std::string& name) {
    static const std::string_view kLowRank[] = {"att.time_maa_w1",
                                                "att.time_decay_w1",
                                                "att.time_decay_w2",
                                                "att.w1",
                                                "att.w2",
                                                "att.a1",
                                                "att.a2",
                                                "att.v1",
                                                "att.v2",
                                                "att.g1",
                                                "att.g2"};
    for (std::string_view l : kLowRank)
        if (name == l) return names.in_block(name) + ".weight";
    return names.in_block(name);
}

Status check_one(const WeightSource& w, const std::string& name, const std::vector<Shape>& shapes,
                 const RwkvConfig& c) {
    if (!w.has(name)) {
        return make_error(Errc::not_found, "tensor '" + name + "' is missing; an RWKV v" +
                                               c.variant() + " model of these sizes needs it");
    }
    SUTRA_ASSIGN(Shape got, w.shape(name));
    for (const Shape& s : shapes)
        if (got == s) return {};
    return make_error(Errc::bad_format,
                      "tensor '" + name + "' has shape " + shape_str(got) + " but an RWKV v" +
                          c.variant() + " model of these sizes (hidden " +
                          std::to_string(c.hidden) + ", ffn " + std::to_string(c.ffn) + ") needs " +
                          shapes_str(shapes));
}

// Every linear: its in-block name and its tensor (the big matrices are "<name>.weight", the
// low-rank ones are stored under their own name).
constexpr LinearSpec kLinears[] = {
    {LinearId::att_receptance, "att.receptance", "att.receptance.weight"},
    {LinearId::att_key, "att.key", "att.key.weight"},
    {LinearId::att_value, "att.value", "att.value.weight"},
    {LinearId::att_gate, "att.gate", "att.gate.weight"},
    {LinearId::att_mix_w1, "att.time_maa_w1", "att.time_maa_w1"},
    {LinearId::att_decay_w1, "att.time_decay_w1", "att.time_decay_w1"},
    {LinearId::att_decay_w2, "att.time_decay_w2", "att.time_decay_w2"},
    {LinearId::att_w1, "att.w1", "att.w1"},
    {LinearId::att_w2, "att.w2", "att.w2"},
    {LinearId::att_a1, "att.a1", "att.a1"},
    {LinearId::att_a2, "att.a2", "att.a2"},
    {LinearId::att_v1, "att.v1", "att.v1"},
    {LinearId::att_v2, "att.v2", "att.v2"},
    {LinearId::att_g1, "att.g1", "att.g1"},
    {LinearId::att_g2, "att.g2", "att.g2"},
    {LinearId::att_output, "att.output", "att.output.weight"},
    {LinearId::ffn_receptance, "ffn.receptance", "ffn.receptance.weight"},
    {LinearId::ffn_key, "ffn.key", "ffn.key.weight"},
    {LinearId::ffn_value, "ffn.value", "ffn.value.weight"},
};

const LinearSpec& spec_of(LinearId id) {
    for (const LinearSpec& s : kLinears)
        if (s.id == id) return s;
    return kLinears[0];  // unreachable: every id is in the table
}

}  // namespace

std::string_view linear_name(LinearId id) {
    return spec_of(id).name;
}

std::vector<LinearSpec> block_linears(const RwkvConfig& c, int layer) {
    using L = LinearId;
    std::vector<L> ids = {L::att_receptance, L::att_key, L::att_value};
    switch (c.version) {
        case Version::v4:
            break;
        case Version::v5_2:
            ids.push_back(L::att_gate);
            break;
        case Version::v6:
            ids.insert(ids.begin(), L::att_mix_w1);
            ids.insert(ids.end(), {L::att_gate, L::att_decay_w1, L::att_decay_w2});
            break;
        case Version::v7:
            ids.insert(ids.end(), {L::att_w1, L::att_w2, L::att_a1, L::att_a2});
            if (layer > 0) ids.insert(ids.end(), {L::att_v1, L::att_v2});
            ids.insert(ids.end(), {L::att_g1, L::att_g2});
            break;
    }
    ids.push_back(L::att_output);
    if (c.version != Version::v7) ids.push_back(L::ffn_receptance);
    ids.insert(ids.end(), {L::ffn_key, L::ffn_value});
    std::vector<LinearSpec> out;
    const std::vector<TensorSpec> specs = block_specs(c, layer);
    for (L id : ids) {
        LinearSpec l = spec_of(id);
        for (const TensorSpec& t : specs) {
            if (t.name == l.tensor) {
                l.out = static_cast<int64_t>(t.shapes[0][0]);
                l.in = static_cast<int64_t>(t.shapes[0][1]);
            }
        }
        out.push_back(l);
    }
    return out;
}

Status check_tensors(const RwkvConfig& c, const Names& names, const WeightSource& w) {
    for (const auto& [name, shapes] : global_specs(c, names))
        SUTRA_TRY(check_one(w, name, shapes, c));
    for (int l = 0; l < c.layers; ++l) {
        for (const TensorSpec& t : block_specs(c, l))
            SUTRA_TRY(check_one(w, names.block(l, t.name), t.shapes, c));
    }
    return {};
}

namespace {

Result<Shape> checked_shape(const WeightSource& w, const std::string& name,
                            const std::vector<std::vector<uint64_t>>& shapes) {
    if (!w.has(name)) return make_error(Errc::not_found, "tensor '" + name + "' is missing");
    SUTRA_ASSIGN(Shape got, w.shape(name));
    bool ok = false;
    for (const Shape& s : shapes)
        ok = ok || got == s;
    if (!ok) {
        return make_error(Errc::bad_format, "tensor '" + name + "' has shape " + shape_str(got) +
                                                ", expected " + shapes_str(shapes));
    }
    return got;
}

template <class T>
Result<T> sized(T v, uint64_t have, const std::string& name, const Shape& shape) {
    uint64_t numel = 1;
    for (uint64_t d : shape)
        numel *= d;
    if (have != numel) {
        return make_error(Errc::bad_format, "tensor '" + name + "': read " + std::to_string(have) +
                                                " values for shape " + shape_str(shape));
    }
    return v;
}

}  // namespace

Result<Vec> load_checked(const WeightSource& w, const std::string& name,
                         const std::vector<std::vector<uint64_t>>& shapes) {
    SUTRA_ASSIGN(Shape got, checked_shape(w, name, shapes));
    SUTRA_ASSIGN(Vec v, w.load(name));
    const uint64_t have = v.size();
    return sized(std::move(v), have, name, got);
}

Result<Matrix> load_matrix_checked(const WeightSource& w, const std::string& name,
                                   const std::vector<std::vector<uint64_t>>& shapes) {
    SUTRA_ASSIGN(Shape got, checked_shape(w, name, shapes));
    SUTRA_ASSIGN(Matrix m, w.load_matrix(name));
    const uint64_t have = m.numel();
    return sized(std::move(m), have, name, got);
}

Result<BlockTensors> load_block_tensors(const RwkvConfig& c, const Names& names,
                                        const WeightSource& w, int layer) {
    if (layer < 0 || layer >= c.layers) {
        return make_error(
            Errc::invalid_argument,
            "layer " + std::to_string(layer) + " is outside [0, " + std::to_string(c.layers) + ")");
    }
    BlockTensors out;
    out.layer = layer;
    for (const TensorSpec& t : block_specs(c, layer)) {
        const std::string key = key_of(names, t.name);
        const std::string name = names.block(layer, t.name);
        // A 2-D ".weight" is a linear's (the low-rank matrices included), read only through
        // Linears::apply: it may stay packed.
        if (key.ends_with(".weight") && t.shapes[0].size() == 2) {
            SUTRA_ASSIGN(out.tensors[key], load_matrix_checked(w, name, t.shapes));
        } else {
            SUTRA_ASSIGN(out.tensors[key], load_checked(w, name, t.shapes));
        }
    }
    return out;
}

std::string block_tensor_name(const RwkvConfig& c, const Names& names, int layer,
                              std::string_view key) {
    if (layer < 0 || layer >= c.layers) return {};
    for (const TensorSpec& t : block_specs(c, layer))
        if (key_of(names, t.name) == key) return names.block(layer, t.name);
    return {};
}

Result<std::shared_ptr<const BlockWeights>> block_weights_of(const RwkvConfig& c,
                                                             const Names& names,
                                                             const BlockTensors& bt) {
    if (bt.layer < 0 || bt.layer >= c.layers) {
        return make_error(Errc::invalid_argument, "block tensors of layer " +
                                                      std::to_string(bt.layer) + ", outside [0, " +
                                                      std::to_string(c.layers) + ")");
    }
    auto b = std::make_shared<BlockWeights>();
    b->layer = bt.layer;
    for (const TensorSpec& t : block_specs(c, bt.layer)) {
        const std::string key = key_of(names, t.name);
        const Matrix* v = bt.find(key);
        uint64_t numel = 1;
        for (uint64_t d : t.shapes[0])
            numel *= d;
        if (!v || v->numel() != numel) {
            return make_error(
                Errc::invalid_argument,
                "block tensors of layer " + std::to_string(bt.layer) + ": '" + key + "' is " +
                    (v ? "of " + std::to_string(v->numel()) + " values" : std::string("missing")) +
                    ", expected " + std::to_string(numel) + " values");
        }
        Matrix x = *v;
        switch (t.transform) {
            case Transform::none:
                break;
            case Transform::neg_exp:
                for (float& e : x)
                    e = -std::exp(e);
                break;
            case Transform::exp_neg_exp:
                for (float& e : x)
                    e = std::exp(-std::exp(e));
                break;
        }
        (*b).*(t.field) = std::move(x);
    }
    return std::shared_ptr<const BlockWeights>(std::move(b));
}

Result<std::shared_ptr<const BlockWeights>> load_block(const RwkvConfig& c, const Names& names,
                                                       const WeightSource& w, int layer) {
    SUTRA_ASSIGN(BlockTensors t, load_block_tensors(c, names, w, layer));
    return block_weights_of(c, names, t);
}

}  // namespace sutra::model::rwkv
