#include "sutra/pipeline/quantize_gptq.hpp"

#include "sutra/parts/part_plan.hpp"
#include "sutra/pipeline/block_records.hpp"
#include "sutra/pipeline/tensor_writer.hpp"

namespace sutra::pipeline {

Result<GptqRunReport> quantize_layers_gptq(
    const io::Checkpoint& ck, const model::LlamaConfig& config,
    const std::vector<format::QbinRecord>& records, format::QbinWriter& writer,
    const calib::CalibrationData& calib, const GptqStreamOptions& options,
    std::vector<bool>& written, ProgressObserver* progress, const std::vector<bool>* only) {
    const BlockRecords blocks(records);
    SUTRA_ASSIGN(GptqLayerStream stream, GptqLayerStream::create(ck, config, calib, options));
    const char* method = options.awq ? "AWQ + GPTQ" : "GPTQ";
    GptqRunReport rep;
    uint64_t done = 0;
    if (progress) progress->on_stage("gptq", static_cast<uint64_t>(config.num_hidden_layers));
    // A part stops after its last block.
    const int last = parts::last_block(records, only, config.num_hidden_layers - 1);
    for (int layer = 0; layer <= last; ++layer) {
        SUTRA_ASSIGN(const BlockRecords::Block blk, blocks.block(layer));
        if (only && !(*only)[blk.record[0]]) {
            // Not this part's (full-precision inputs only): carry the inputs on.
            SUTRA_TRY(stream.skip());
            continue;
        }
        SUTRA_ASSIGN(GptqLayer res, stream.next(blk.quant));
        model::BlockWeights& w = res.weights;
        std::vector<float>* lin[7] = {&w.q, &w.k, &w.v, &w.o, &w.gate, &w.up, &w.down};
        for (size_t k = 0; k < 7; ++k) {
            const size_t ri = blk.record[k];
            const auto& r = records[ri];
            if (r.quantized) {
                const auto& g = res.gptq.quantized[k];
                if (!g) return make_error(Errc::internal, r.name + ": GPTQ left it unquantized");
                SUTRA_TRY(write_codes(r, ri, writer, g->codes, g->scales, g->zeros));
            } else {
                SUTRA_TRY(write_raw_f32(r, ri, writer, *lin[k]));
            }
            written[ri] = true;
        }
        SUTRA_TRY(blocks.write_norms_and_biases(w, writer, written, method));
        rep.times += res.gptq.times;
        rep.layers.push_back({layer, std::move(res.gptq.linears), std::move(res.awq_groups)});
        if (progress) progress->on_progress("layer " + std::to_string(layer), ++done);
    }
    if (progress) progress->on_stage_end();
    return rep;
}

}  // namespace sutra::pipeline
