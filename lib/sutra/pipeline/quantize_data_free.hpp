#pragma once
// The data-free salience path of `sutra quantize` (no calibration, a salience_threshold in the
// config): for every norm -> linears group found by name (input_layernorm -> q/k/v,
// post_attention_layernorm -> gate/up), choose alpha by the proxy loss of quant/salience.hpp,
// scale the linears' high-salience columns, fold 1/s into the norm, and write the group.
#include <cstdint>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/format/qbin_writer.hpp"
#include "sutra/io/checkpoint.hpp"

namespace sutra::pipeline {

struct SalienceGroupReport {
    std::string norm;
    double salient_share = 0;  // share of high-salience channels
    float best_alpha = 0;      // 0: left as plain round-to-nearest
    double loss_plain = 0, loss_best = 0;
};

// A norm and the linears that read its output, as found in a checkpoint by name.
struct NormGroup {
    size_t norm = 0;              // index into Checkpoint::tensors()
    std::vector<size_t> linears;  // indexes into Checkpoint::tensors()
};
std::vector<NormGroup> find_norm_groups(const io::Checkpoint& ck);

Result<std::vector<SalienceGroupReport>> quantize_groups_data_free(
    const io::Checkpoint& ck, const std::vector<NormGroup>& groups,
    const std::vector<format::QbinRecord>& records, format::QbinWriter& writer, double threshold,
    int grid, uint64_t chunk_bytes, unsigned threads, std::vector<bool>& written);

}  // namespace sutra::pipeline
