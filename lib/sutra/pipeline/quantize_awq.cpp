#include "sutra/pipeline/quantize_awq.hpp"

#include "sutra/parts/part_plan.hpp"

#include "sutra/model/llama/llama.hpp"
#include "sutra/pipeline/awq_layers.hpp"
#include "sutra/pipeline/block_records.hpp"
#include "sutra/pipeline/tensor_writer.hpp"

namespace sutra::pipeline {

Result<std::vector<AwqLayerReport>> quantize_layers_awq(
    const io::Checkpoint& ck, const model::LlamaConfig& config,
    const std::vector<format::QbinRecord>& records, format::QbinWriter& writer,
    const calib::CalibrationData& calib, const AwqOptions& options, uint64_t chunk_bytes,
    std::vector<bool>& written, ProgressObserver* progress, const std::vector<bool>* only) {
    const BlockRecords blocks(records);
    SUTRA_ASSIGN(AwqLayerStream stream, AwqLayerStream::create(ck, config, calib, options));

    std::vector<AwqLayerReport> reports;
    uint64_t done = 0;
    if (progress) progress->on_stage("awq", static_cast<uint64_t>(config.num_hidden_layers));
    // A part stops after its last block.
    const int last = parts::last_block(records, only, config.num_hidden_layers - 1);
    for (int layer = 0; layer <= last; ++layer) {
        SUTRA_ASSIGN(const BlockRecords::Block blk, blocks.block(layer));
        const auto& rec = blk.record;
        if (only && !(*only)[rec[0]]) {
            // Not this part's: carry the activations to the part's blocks.
            SUTRA_TRY(stream.skip());
            continue;
        }
        SUTRA_ASSIGN(AwqLayer res, stream.next(blk.quant));

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
        SUTRA_TRY(blocks.write_norms_and_biases(tw, writer, written, "AWQ"));
        reports.push_back({layer, std::move(res.result.groups)});
        if (progress) progress->on_progress("layer " + std::to_string(layer), ++done);
    }
    if (progress) progress->on_stage_end();
    return reports;
}

}  // namespace sutra::pipeline
