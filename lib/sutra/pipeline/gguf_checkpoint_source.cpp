#include "sutra/pipeline/gguf_checkpoint_source.hpp"

#include <charconv>
#include <cstring>

namespace sutra::pipeline {
namespace {

using quant::GgmlType;

// "model.layers.12.mlp.up_proj.weight" -> 12 and "mlp.up_proj.weight"; -1 outside blocks.
int parse_layer(const std::string& name, std::string& suffix) {
    constexpr std::string_view prefix = "model.layers.";
    if (!name.starts_with(prefix)) return -1;
    const char* p = name.data() + prefix.size();
    const char* end = name.data() + name.size();
    int layer = -1;
    const auto r = std::from_chars(p, end, layer);
    if (r.ec != std::errc() || r.ptr == end || *r.ptr != '.') return -1;
    suffix.assign(r.ptr + 1, end);
    return layer;
}

// The field of a transformed block that holds the tensor named `suffix`; nullptr when the
// block does not hold it (it is then read from the checkpoint unchanged).
const std::vector<float>* field(const model::BlockWeights& w, const std::string& suffix) {
    const std::pair<const char*, const std::vector<float>*> fields[] = {
        {"input_layernorm.weight", &w.input_norm},
        {"self_attn.q_proj.weight", &w.q},
        {"self_attn.k_proj.weight", &w.k},
        {"self_attn.v_proj.weight", &w.v},
        {"self_attn.o_proj.weight", &w.o},
        {"self_attn.q_proj.bias", &w.q_bias},
        {"self_attn.k_proj.bias", &w.k_bias},
        {"self_attn.v_proj.bias", &w.v_bias},
        {"self_attn.o_proj.bias", &w.o_bias},
        {"self_attn.q_norm.weight", &w.q_norm},
        {"self_attn.k_norm.weight", &w.k_norm},
        {"post_attention_layernorm.weight", &w.post_norm},
        {"mlp.gate_proj.weight", &w.gate},
        {"mlp.up_proj.weight", &w.up},
        {"mlp.down_proj.weight", &w.down}};
    for (const auto& [s, f] : fields)
        if (suffix == s) return f->empty() ? nullptr : f;
    return nullptr;
}

// Index of `suffix` in kBlockLinears (+ ".weight"), or -1.
int linear_index(const std::string& suffix) {
    for (size_t k = 0; k < kBlockLinears.size(); ++k)
        if (suffix == std::string(kBlockLinears[k]) + ".weight") return static_cast<int>(k);
    return -1;
}

}  // namespace

std::optional<quant::QuantLayout> awq_proxy_layout(GgmlType type, uint64_t rows, uint64_t cols) {
    int bits = 0;
    uint32_t group = 32;
    switch (type) {
        case GgmlType::F32:
        case GgmlType::F16:
            return std::nullopt;
        case GgmlType::Q4_0:
        case GgmlType::Q4_1:
        case GgmlType::Q4_K:
            bits = 4;
            break;
        case GgmlType::Q5_0:
        case GgmlType::Q5_1:
        case GgmlType::Q5_K:
            bits = 5;
            break;
        case GgmlType::Q6_K:
            bits = 6;
            group = 16;
            break;
        case GgmlType::Q8_0:
            bits = 8;
            break;
    }
    return quant::make_layout(rows, cols, bits, group);
}

Result<std::unique_ptr<CheckpointGgufSource>> CheckpointGgufSource::create(
    const io::Checkpoint& ck, const model::LlamaConfig& config, const calib::CalibrationData* calib,
    bool awq, const AwqOptions& options) {
    std::unique_ptr<CheckpointGgufSource> s(new CheckpointGgufSource());
    s->ck_ = &ck;
    s->config_ = &config;
    s->calib_ = calib;
    for (const auto& t : ck.tensors()) {
        GgufSourceTensor g;
        g.name = t.name;
        g.shape = t.shape;
        g.dtype = t.dtype;
        s->tensors_.push_back(std::move(g));
        std::string suffix;
        s->layer_of_.push_back(parse_layer(t.name, suffix));
        s->suffix_of_.push_back(std::move(suffix));
    }
    if (awq) {
        if (!calib)
            return make_error(Errc::internal, "AWQ into GGUF without calibration statistics");
        SUTRA_ASSIGN(AwqLayerStream st, AwqLayerStream::create(ck, config, *calib, options));
        s->stream_.emplace(std::move(st));
    }
    return s;
}

Status CheckpointGgufSource::plan(const std::vector<GgmlType>& types) {
    if (types.size() != tensors_.size())
        return make_error(Errc::internal, "GGUF plan: one type per tensor expected");
    types_ = types;
    return {};
}

Status CheckpointGgufSource::enter_layer(int layer) {
    if (current_ && current_->layer == layer) return {};
    if (!stream_) return make_error(Errc::internal, "no AWQ stream");
    if (layer < stream_->next_layer())
        return make_error(Errc::internal, "AWQ into GGUF: layer " + std::to_string(layer) +
                                              " read after layer " +
                                              std::to_string(stream_->next_layer() - 1));
    while (stream_->next_layer() <= layer) {
        const int l = stream_->next_layer();
        BlockQuant bq;
        for (size_t k = 0; k < kBlockLinears.size(); ++k) {
            const std::string name =
                model::Llama::layer_tensor(l, std::string(kBlockLinears[k]) + ".weight");
            const io::TensorRef* t = ck_->find(name);
            if (!t || t->shape.size() != 2)
                return make_error(Errc::bad_format, "AWQ: '" + name + "' is missing or not 2-D");
            const size_t i = static_cast<size_t>(t - ck_->tensors().data());
            const auto proxy = types_.empty()
                                   ? std::nullopt
                                   : awq_proxy_layout(types_[i], t->shape[0], t->shape[1]);
            bq.quantize[k] = proxy.has_value();
            bq.layout[k] = proxy ? *proxy : quant::make_layout(t->shape[0], t->shape[1], 4, 0);
        }
        SUTRA_ASSIGN(AwqLayer next, stream_->next(bq));
        reports_.push_back({next.layer, next.result.groups});
        current_.emplace(std::move(next));
    }
    return {};
}

const std::vector<float>* CheckpointGgufSource::block_tensor(size_t i) {
    if (!current_ || current_->layer != layer_of_[i]) return nullptr;
    return field(current_->result.weights, suffix_of_[i]);
}

Status CheckpointGgufSource::read_rows(size_t i, uint64_t row0, uint64_t n, float* out) {
    const GgufSourceTensor& t = tensors_[i];
    const uint64_t cols = t.shape.size() >= 2 ? t.shape.back() : (t.shape.empty() ? 1 : t.shape[0]);
    if (stream_ && layer_of_[i] >= 0 && layer_of_[i] < config_->num_hidden_layers) {
        SUTRA_TRY(enter_layer(layer_of_[i]));
        if (const std::vector<float>* v = block_tensor(i)) {
            if ((row0 + n) * cols > v->size())
                return make_error(Errc::internal, "rows past the end of '" + t.name + "'");
            std::memcpy(out, v->data() + row0 * cols,
                        static_cast<size_t>(n * cols) * sizeof(float));
            return {};
        }
    }
    const io::TensorRef* ref = ck_->find(t.name);
    if (!ref) return make_error(Errc::internal, "tensor '" + t.name + "' vanished");
    return ck_->read_f32(*ref, row0 * cols, std::span<float>(out, static_cast<size_t>(n * cols)));
}

const std::vector<float>* CheckpointGgufSource::importance(size_t i) {
    if (!calib_) return nullptr;
    const GgufSourceTensor& t = tensors_[i];
    if (t.shape.size() != 2) return nullptr;
    if (t.name == "lm_head.weight") {
        const auto it = calib_->linears.find("lm_head");
        return it == calib_->linears.end() || it->second.mean_sq.size() != t.shape[1]
                   ? nullptr
                   : &it->second.mean_sq;
    }
    const int layer = layer_of_[i];
    const int lin = layer >= 0 ? linear_index(suffix_of_[i]) : -1;
    if (lin < 0) return nullptr;
    if (stream_) {
        if (!enter_layer(layer).ok() || !current_ || current_->layer != layer) return nullptr;
        const auto& imp = current_->importance[static_cast<size_t>(lin)];
        return imp.size() == t.shape[1] ? &imp : nullptr;
    }
    // Statistics without AWQ: the input's mean x^2 as measured.
    const std::string key = suffix_of_[i].substr(0, suffix_of_[i].size() - std::strlen(".weight"));
    const auto it = calib_->linears.find(calib::linear_key(layer, key));
    return it == calib_->linears.end() || it->second.mean_sq.size() != t.shape[1]
               ? nullptr
               : &it->second.mean_sq;
}

}  // namespace sutra::pipeline
