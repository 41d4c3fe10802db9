#include "sutra/pipeline/block_records.hpp"

#include "sutra/pipeline/tensor_writer.hpp"

namespace sutra::pipeline {

BlockRecords::BlockRecords(const std::vector<format::QbinRecord>& records) : records_(records) {
    for (size_t i = 0; i < records.size(); ++i)
        index_.emplace(records[i].name, i);
}

Result<BlockRecords::Block> BlockRecords::block(int layer) const {
    Block b;
    for (size_t k = 0; k < kBlockLinears.size(); ++k) {
        const auto it = index_.find(
            model::Llama::layer_tensor(layer, std::string(kBlockLinears[k]) + ".weight"));
        if (it == index_.end())
            return make_error(Errc::internal,
                              "a linear of layer " + std::to_string(layer) + " has no record");
        const auto& r = records_[it->second];
        b.record[k] = it->second;
        b.quant.quantize[k] = r.quantized;
        b.quant.layout[k] =
            r.quantized ? r.layout : quant::make_layout(r.shape[0], r.shape[1], 4, 0);
    }
    return b;
}

Status BlockRecords::write_norms_and_biases(const model::BlockWeights& w,
                                            format::QbinWriter& writer, std::vector<bool>& written,
                                            const char* method) const {
    const std::pair<const char*, const std::vector<float>*> raws[] = {
        {"input_layernorm.weight", &w.input_norm},
        {"post_attention_layernorm.weight", &w.post_norm},
        {"self_attn.q_proj.bias", &w.q_bias},
        {"self_attn.k_proj.bias", &w.k_bias},
        {"self_attn.v_proj.bias", &w.v_bias}};
    for (const auto& [suffix, values] : raws) {
        const auto it = index_.find(model::Llama::layer_tensor(w.layer, suffix));
        if (it == index_.end() || values->empty()) continue;
        const auto& r = records_[it->second];
        if (r.quantized)
            return make_error(Errc::unsupported, std::string(method) + " needs '" + r.name +
                                                     "' unquantized; keep it with a rule");
        SUTRA_TRY(write_raw_f32(r, it->second, writer, *values));
        written[it->second] = true;
    }
    return {};
}

}  // namespace sutra::pipeline
