#include "sutra/pipeline/quantize_gptq_family.hpp"

#include <algorithm>
#include <map>

#include "sutra/pipeline/awq_family_block.hpp"
#include "sutra/pipeline/gptq_family_block.hpp"
#include "sutra/pipeline/tensor_writer.hpp"

namespace sutra::pipeline {

Result<GptqRunReport> quantize_layers_gptq_family(model::Model& model,
                                                  std::span<const std::vector<int32_t>> windows,
                                                  const std::vector<format::QbinRecord>& records,
                                                  format::QbinWriter& writer,
                                                  const FamilyGptqOptions& options,
                                                  uint64_t chunk_bytes, std::vector<bool>& written,
                                                  ProgressObserver* progress) {
    std::map<std::string, size_t, std::less<>> index;
    for (size_t i = 0; i < records.size(); ++i)
        index[records[i].name] = i;
    const char* method = options.awq ? "AWQ + GPTQ" : "GPTQ";
    std::vector<model::Activations> xs(windows.size());
    for (size_t k = 0; k < windows.size(); ++k)
        SUTRA_TRY(model.embed(windows[k], 0, xs[k]));
    if (xs.empty())
        return make_error(Errc::invalid_argument,
                          std::string(method) + ": the calibration gives no windows");

    const auto layers = static_cast<int>(model.info().num_layers);
    GptqRunReport rep;
    if (progress) progress->on_stage("gptq", static_cast<uint64_t>(layers));
    for (int layer = 0; layer < layers; ++layer) {
        SUTRA_ASSIGN(model::BlockTensors fp, model.load_block(layer));
        LinearLayouts layouts;
        std::map<std::string, std::string, std::less<>> linear_of;  // weight tensor -> linear
        for (const auto& bl : model.block_linears(layer)) {
            const std::string full = model.block_tensor(layer, bl.name + ".weight");
            auto it = index.find(full);
            if (it == index.end())
                return make_error(Errc::internal, std::string(method) + ": no record for " + full);
            if (records[it->second].quantized) {
                layouts[bl.name] = records[it->second].layout;
                linear_of[bl.name + ".weight"] = bl.name;
            }
        }
        GptqLayerReport lrep;
        lrep.layer = layer;
        model::BlockTensors given;
        if (options.awq) {
            std::vector<model::Activations> copy = xs;  // AWQ advances its inputs
            SUTRA_ASSIGN(FamilyAwqResult a,
                         awq_family_block(model, fp, copy, layouts, *options.awq));
            given = std::move(a.weights);
            lrep.awq_groups = std::move(a.groups);
        } else {
            given = std::move(fp);
        }
        SUTRA_ASSIGN(FamilyGptqResult g,
                     gptq_family_block(model, given, xs, layouts, options.block));
        for (const auto& [name, values] : given.tensors) {
            const std::string full = model.block_tensor(layer, name);
            auto it = index.find(full);
            if (it == index.end()) continue;  // a tensor the family derives (none is written)
            const format::QbinRecord& r = records[it->second];
            if (auto lit = linear_of.find(name); lit != linear_of.end()) {
                auto qit = g.quantized.find(lit->second);
                if (qit == g.quantized.end())
                    return make_error(Errc::internal, full + ": GPTQ left it unquantized");
                const quant::GptqResult& q = qit->second;
                SUTRA_TRY(write_codes(r, it->second, writer, q.codes, q.scales, q.zeros));
            } else if (r.quantized) {
                SUTRA_TRY(write_quantized(r, it->second, writer, rows_from(values, r.layout.cols),
                                          chunk_bytes, options.block.threads));
            } else {
                SUTRA_TRY(write_raw_f32(r, it->second, writer, values));
            }
            written[it->second] = true;
        }
        rep.times += g.times;
        lrep.linears = std::move(g.linears);
        rep.layers.push_back(std::move(lrep));
        if (progress)
            progress->on_progress("layer " + std::to_string(layer),
                                  static_cast<uint64_t>(layer + 1));
    }
    if (progress) progress->on_stage_end();
    return rep;
}

uint64_t gptq_family_memory_estimate(const model::Model& model, uint64_t windows, uint64_t seq_len,
                                     bool act_order, bool with_awq, bool fp_inputs) {
    const auto hidden = static_cast<uint64_t>(model.info().hidden_size);
    uint64_t block = 0, outputs = 0, stage = 0, widest = 0;
    for (int l = 0; l < static_cast<int>(model.info().num_layers); ++l) {
        std::map<std::string, uint64_t, std::less<>> in;
        uint64_t b = 0, o = 0;
        for (const auto& bl : model.block_linears(l)) {
            b += 4 * static_cast<uint64_t>(bl.out) * static_cast<uint64_t>(bl.in);
            o += static_cast<uint64_t>(bl.out);
            in[bl.name] = static_cast<uint64_t>(bl.in);
            widest = std::max(widest, static_cast<uint64_t>(bl.in));
        }
        block = std::max(block, b);
        outputs = std::max(outputs, o);
        uint64_t all = 0;
        for (const auto& s : gptq_family_stages(model, l)) {
            uint64_t h = 0;
            for (const auto& n : s)
                h += 8 * in[n] * in[n];
            stage = std::max(stage, h);
            all += h;
        }
        if (fp_inputs) stage = std::max(stage, all);  // one pass collects them all
    }
    const uint64_t acts = 4 * windows * seq_len * hidden * (with_awq ? 2 : 1);
    const uint64_t window = 4 * seq_len * (hidden + outputs);  // one window run: its copy and
                                                               // the linears' outputs
    const uint64_t factor = widest * widest * (8 * (act_order ? 3 : 2) + 4);
    return block * (with_awq ? 3 : 2) + acts + window + stage + factor;
}

}  // namespace sutra::pipeline
