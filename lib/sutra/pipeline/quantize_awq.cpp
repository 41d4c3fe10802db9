#include "sutra/pipeline/quantize_awq.hpp"

#include <unordered_map>

#include "sutra/model/llama.hpp"
#include "sutra/pipeline/awq_layers.hpp"
#include "sutra/pipeline/tensor_writer.hpp"

namespace sutra::pipeline {

Result<std::vector<AwqLayerReport>> quantize_layers_awq(
    const io::Checkpoint& ck, const model::LlamaConfig& config,
    const std::vector<format::QbinRecord>& records, format::QbinWriter& writer,
    const calib::CalibrationData& calib, const AwqOptions& options, uint64_t chunk_bytes,
    std::vector<bool>& written, ProgressObserver* progress) {
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < records.size(); ++i)
        index.emplace(records[i].name, i);
    SUTRA_ASSIGN(AwqLayerStream stream, AwqLayerStream::create(ck, config, calib, options));

    std::vector<AwqLayerReport> reports;
    uint64_t done = 0;
    if (progress) progress->on_stage("awq", static_cast<uint64_t>(config.num_hidden_layers));
    for (int layer = 0; layer < config.num_hidden_layers; ++layer) {
        BlockQuant bq;
        std::array<size_t, 7> rec{};
        for (size_t k = 0; k < kBlockLinears.size(); ++k) {
            const auto it = index.find(
                model::Llama::layer_tensor(layer, std::string(kBlockLinears[k]) + ".weight"));
            if (it == index.end())
                return make_error(Errc::internal, "AWQ: a linear of layer " +
                                                      std::to_string(layer) + " has no record");
            rec[k] = it->second;
            bq.quantize[k] = records[it->second].quantized;
            bq.layout[k] = records[it->second].quantized
                               ? records[it->second].layout
                               : quant::make_layout(records[it->second].shape[0],
                                                    records[it->second].shape[1], 4, 0);
        }
        SUTRA_ASSIGN(AwqLayer res, stream.next(bq));

        // Write the block's tensors from the transformed weights.
        const model::BlockWeights& tw = res.result.weights;
        const std::vector<float>* lin[7] = {&tw.q, &tw.k, &tw.v, &tw.o, &tw.gate, &tw.up, &tw.down};
        for (size_t k = 0; k < 7; ++k) {
            const auto& r = records[rec[k]];
            const std::vector<float>& v = *lin[k];
            if (r.quantized) {
                SUTRA_TRY(write_quantized(r, rec[k], writer, rows_from(v, r.layout.cols),
                                          chunk_bytes, options.threads));
            } else {
                SUTRA_TRY(write_raw_f32(r, rec[k], writer, v));
            }
            written[rec[k]] = true;
        }
        const std::pair<const char*, const std::vector<float>*> raws[] = {
            {"input_layernorm.weight", &tw.input_norm},
            {"post_attention_layernorm.weight", &tw.post_norm},
            {"self_attn.q_proj.bias", &tw.q_bias},
            {"self_attn.k_proj.bias", &tw.k_bias},
            {"self_attn.v_proj.bias", &tw.v_bias}};
        for (const auto& [suffix, values] : raws) {
            const auto it = index.find(model::Llama::layer_tensor(layer, suffix));
            if (it == index.end() || values->empty()) continue;
            const auto& r = records[it->second];
            if (r.quantized)
                return make_error(Errc::unsupported,
                                  "AWQ needs '" + r.name + "' unquantized; keep it with a rule");
            SUTRA_TRY(write_raw_f32(r, it->second, writer, *values));
            written[it->second] = true;
        }
        reports.push_back({layer, std::move(res.result.groups)});
        if (progress) progress->on_progress("layer " + std::to_string(layer), ++done);
    }
    if (progress) progress->on_stage_end();
    return reports;
}

}  // namespace sutra::pipeline
