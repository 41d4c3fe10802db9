#include "sutra/pipeline/quantize_awq_family.hpp"

#include <map>

#include "sutra/parts/part_plan.hpp"
#include "sutra/pipeline/awq_family_block.hpp"
#include "sutra/pipeline/tensor_writer.hpp"

namespace sutra::pipeline {

std::vector<std::string> family_awq_tensors(const model::Model& model) {
    std::vector<std::string> out;
    for (int l = 0; l < static_cast<int>(model.info().num_layers); ++l) {
        for (const auto& bl : model.block_linears(l))
            out.push_back(model.block_tensor(l, bl.name + ".weight"));
        for (const auto& g : model.scale_groups(l))
            for (const auto& t : g.fold_tensors)
                out.push_back(model.block_tensor(l, t));
    }
    return out;
}

Result<std::vector<AwqLayerReport>> quantize_layers_awq_family(
    model::Model& model, std::span<const std::vector<int32_t>> windows,
    const std::vector<format::QbinRecord>& records, format::QbinWriter& writer,
    const AwqOptions& options, uint64_t chunk_bytes, std::vector<bool>& written,
    ProgressObserver* progress, const std::vector<bool>* only) {
    std::map<std::string, size_t, std::less<>> index;
    for (size_t i = 0; i < records.size(); ++i)
        index[records[i].name] = i;
    std::vector<model::Activations> xs(windows.size());
    for (size_t k = 0; k < windows.size(); ++k)
        SUTRA_TRY(model.embed(windows[k], 0, xs[k]));
    if (xs.empty())
        return make_error(Errc::invalid_argument, "AWQ: the calibration gives no windows");

    const auto layers = static_cast<int>(model.info().num_layers);
    std::vector<AwqLayerReport> reports;
    if (progress) progress->on_stage("awq", static_cast<uint64_t>(layers));
    // A part (`only`): the last block that has records of it.
    const int last = parts::last_block(records, only, layers - 1);
    for (int layer = 0; layer <= last; ++layer) {
        SUTRA_ASSIGN(model::BlockTensors fp, model.load_block(layer));
        if (only) {
            bool mine = false;
            for (const auto& bl : model.block_linears(layer)) {
                auto it = index.find(model.block_tensor(layer, bl.name + ".weight"));
                mine = mine || (it != index.end() && (*only)[it->second]);
            }
            if (!mine) {  // not this part's: only carry the activations through it
                for (auto& x : xs)
                    SUTRA_TRY(model.run_block_with(fp, std::span<model::Activations>(&x, 1)));
                continue;
            }
        }
        LinearLayouts layouts;
        for (const auto& bl : model.block_linears(layer)) {
            const std::string full = model.block_tensor(layer, bl.name + ".weight");
            auto it = index.find(full);
            if (it == index.end()) return make_error(Errc::internal, "AWQ: no record for " + full);
            if (records[it->second].quantized) layouts[bl.name] = records[it->second].layout;
        }
        SUTRA_ASSIGN(FamilyAwqResult res, awq_family_block(model, fp, xs, layouts, options));
        for (const auto& [name, values] : res.weights.tensors) {
            const std::string full = model.block_tensor(layer, name);
            auto it = index.find(full);
            if (it == index.end()) continue;  // a tensor the family derives (none is written)
            const format::QbinRecord& r = records[it->second];
            if (r.quantized) {
                SUTRA_TRY(write_quantized(r, it->second, writer, rows_from(values, r.layout.cols),
                                          chunk_bytes, options.threads));
            } else {
                SUTRA_TRY(write_raw_f32(r, it->second, writer, values));
            }
            written[it->second] = true;
        }
        reports.push_back({layer, std::move(res.groups)});
        if (progress)
            progress->on_progress("layer " + std::to_string(layer),
                                  static_cast<uint64_t>(layer + 1));
    }
    if (progress) progress->on_stage_end();
    return reports;
}

}  // namespace sutra::pipeline
