#include "sutra/pipeline/quantize_data_free.hpp"

#include <algorithm>
#include <limits>

#include "sutra/pipeline/tensor_writer.hpp"
#include "sutra/quant/awq.hpp"
#include "sutra/quant/salience.hpp"

namespace sutra::pipeline {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<NormGroup> find_norm_groups(const io::Checkpoint& ck) {
    static const std::pair<const char*, std::vector<const char*>> kGroups[] = {
        {"input_layernorm.weight",
         {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"}},
        {"post_attention_layernorm.weight", {"mlp.gate_proj.weight", "mlp.up_proj.weight"}},
    };
    std::vector<NormGroup> out;
    for (size_t i = 0; i < ck.tensors().size(); ++i) {
        const auto& t = ck.tensors()[i];
        if (t.shape.size() != 1 || !dtype_is_float_quantizable(t.dtype)) continue;
        for (const auto& [norm, linears] : kGroups) {
            if (!ends_with(t.name, norm)) continue;
            const std::string prefix = t.name.substr(0, t.name.size() - std::string(norm).size());
            NormGroup g;
            g.norm = i;
            bool ok = true;
            for (const char* l : linears) {
                const io::TensorRef* w = ck.find(prefix + l);
                if (!w || w->shape.size() != 2 || w->shape[1] != t.shape[0] ||
                    !dtype_is_float_quantizable(w->dtype)) {
                    ok = false;
                    break;
                }
                g.linears.push_back(static_cast<size_t>(w - ck.tensors().data()));
            }
            if (ok) out.push_back(std::move(g));
        }
    }
    return out;
}

Result<std::vector<SalienceGroupReport>> quantize_groups_data_free(
    const io::Checkpoint& ck, const std::vector<NormGroup>& groups,
    const std::vector<format::QbinRecord>& records, format::QbinWriter& writer, double threshold,
    int grid, uint64_t chunk_bytes, unsigned threads, std::vector<bool>& written) {
    std::vector<SalienceGroupReport> reports;
    for (const auto& g : groups) {
        // Records are in checkpoint order, so tensor index == record index.
        if (records[g.norm].quantized)
            continue;  // a rule quantized the norm: leave the group as planned
        SUTRA_ASSIGN(std::vector<float> norm, ck.read_all_f32(ck.tensors()[g.norm]));
        std::vector<std::vector<float>> ws;
        for (size_t li : g.linears) {
            SUTRA_ASSIGN(std::vector<float> w, ck.read_all_f32(ck.tensors()[li]));
            ws.push_back(std::move(w));
        }
        SalienceGroupReport rep;
        rep.norm = ck.tensors()[g.norm].name;
        rep.salient_share = quant::salient_share(norm, threshold);
        double best = std::numeric_limits<double>::infinity();
        std::vector<float> best_s(norm.size(), 1.0f);
        for (int step = 0; step < grid; ++step) {
            const float alpha = static_cast<float>(step) / static_cast<float>(grid);
            const auto s = quant::data_free_scales(norm, threshold, alpha);
            double loss = 0;
            for (size_t k = 0; k < ws.size(); ++k)
                if (records[g.linears[k]].quantized)
                    loss +=
                        quant::proxy_loss(ws[k], records[g.linears[k]].layout, norm, s, threads);
            if (step == 0) rep.loss_plain = loss;
            if (loss < best) {
                best = loss;
                best_s = s;
                rep.best_alpha = alpha;
            }
        }
        rep.loss_best = best;
        quant::scale_columns(norm, norm.size(), best_s, true);
        SUTRA_TRY(write_raw_f32(records[g.norm], g.norm, writer, norm));
        written[g.norm] = true;
        for (size_t k = 0; k < ws.size(); ++k) {
            const size_t li = g.linears[k];
            quant::scale_columns(ws[k], norm.size(), best_s);
            const auto& r = records[li];
            if (r.quantized) {
                SUTRA_TRY(write_quantized(r, li, writer, rows_from(ws[k], r.layout.cols),
                                          chunk_bytes, threads));
            } else {
                SUTRA_TRY(write_raw_f32(r, li, writer, ws[k]));
            }
            written[li] = true;
        }
        reports.push_back(std::move(rep));
    }
    return reports;
}

}  // namespace sutra::pipeline
