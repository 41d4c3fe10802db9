#pragma once
// The tensors of an RWKV model, per version: which ones a block has, the shapes they must have,
// how they are loaded (f32, row-major, matrices [out, in]), and the block's linear layers as the
// LinearObserver names them.
//
// Stored forms, and what a block holds after loading (vectors always [C]):
//   v4   time_mix_k/v/r, time_first, time_decay; rwkv.cpp stores time_decay as -exp(raw) and
//        squeezes the vectors, Hugging Face and .pth files keep it raw (then -exp at load).
//   v5.2 time_mix_k/v/r/g, time_faaaa (u), time_decay stored by rwkv.cpp as exp(-exp(raw))
//        [H, S, 1] (raw [H, S] in a .pth: converted at load), ln_x, gate.
//   v6   time_maa_x/w/k/v/r/g, time_maa_w1 [5 D, C], time_maa_w2 [5, C, D], time_decay_w1
//        [Dd, C], time_decay_w2 [C, Dd] (rwkv.cpp's transposed layout), time_decay raw
//        ([H, S, 1] or [C]), time_faaaa [H, S, 1], ln_x, gate; ffn.time_maa_k/r.
//   v7   x_rwkvag [6, 1, C] (x_r, x_w, x_k, x_v, x_a, x_g), w0/a0/v0/k_k/k_a [1, 1, C],
//        r_k [H, S], low-rank w1/a1/v1/g1 [rank, C] and w2/a2/v2/g2 [C, rank] (v0/v1/v2 from
//        block 1 on), ln_x; ffn.x_k, ffn without receptance.
// Every block: ln1, ln2, att.key/value/receptance/output [C, C], ffn.key [F, C], ffn.value
// [C, F], ffn.receptance [C, C] (not v7). Outside: emb [V, C], blocks.0.ln0, ln_out, head.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/rwkv/rwkv_config.hpp"
#include "sutra/model/rwkv/rwkv_names.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model::rwkv {

using Vec = std::vector<float>;

// Every tensor is a Matrix so that one table of members describes them all; only linears
// (read by Linears::apply alone) are ever packed.
struct BlockWeights {
    int layer = -1;
    Matrix ln1_w, ln1_b, ln2_w, ln2_b;
    // Time mix.
    Matrix key, value, receptance, output, gate;
    Matrix mix_k, mix_v, mix_r, mix_g;  // v4 / v5.2: x*m + prev*(1-m); v6: x + (prev-x)*m
    Matrix mix_x, mix_w;                // v6
    Matrix decay;  // v4: -exp(raw); v5.2: exp(-exp(raw)); v6: raw (made per token)
    Matrix first;  // v4: time_first; v5.2 / v6: time_faaaa (u)
    Matrix ln_x_w, ln_x_b;
    Matrix mix_w1, mix_w2, decay_w1, decay_w2;                         // v6
    Matrix x_rwkvag;                                                   // v7 [6, C]
    Matrix w0, w1, w2, a0, a1, a2, v0, v1, v2, g1, g2, k_k, k_a, r_k;  // v7
    // Channel mix.
    Matrix ffn_mix_k, ffn_mix_r;  // v4 / v5.2: time_mix_k/r; v6: time_maa_k/r; v7: x_k
    Matrix ffn_key, ffn_value, ffn_receptance;
};

// ln_out and the head matrix [V, C] (the embedding table when tied).
struct HeadWeights {
    Vec ln_w, ln_b;
    std::shared_ptr<const Matrix> head;
};

// The linear layers of a block, in the order a block applies them.
enum class LinearId {
    att_receptance,
    att_key,
    att_value,
    att_gate,
    att_mix_w1,    // v6 time_maa_w1: input x + (prev - x) * time_maa_x
    att_decay_w1,  // v6 time_decay_w1: input xw
    att_decay_w2,  // v6 time_decay_w2: input tanh(xw W1^T)
    att_w1,        // v7 decay: input xw
    att_w2,        //   input tanh(xw w1^T)
    att_a1,        // v7 in-context rate: input xa
    att_a2,        //   input xa a1^T
    att_v1,        // v7 value residual (blocks 1..): input xv
    att_v2,        //   input xv v1^T
    att_g1,        // v7 gate: input xg
    att_g2,        //   input sigmoid(xg g1^T)
    att_output,
    ffn_receptance,
    ffn_key,
    ffn_value,
};

struct LinearSpec {
    LinearId id;
    std::string_view name;    // in-block, rwkv.cpp naming: "att.key"
    std::string_view tensor;  // in-block tensor: "att.key.weight", "att.w1"
    int64_t out = 0;          // its weight's shape [out, in]
    int64_t in = 0;
};

// The linears of `layer` (v6's time_maa_w2 is a [5, C, D] stack, not a matrix: not listed).
std::vector<LinearSpec> block_linears(const RwkvConfig& cfg, int layer);
// The rwkv.cpp in-block name of a linear ("att.key").
std::string_view linear_name(LinearId id);

// Presence and shape of every tensor the model uses, in every block: not_found naming a
// missing tensor, bad_format naming a wrong shape and the expected one.
Status check_tensors(const RwkvConfig& cfg, const Names& names, const WeightSource& weights);

// One block's tensors, checked and converted as above.
Result<std::shared_ptr<const BlockWeights>> load_block(const RwkvConfig& cfg, const Names& names,
                                                       const WeightSource& weights, int layer);

// The block view of model/family.hpp. BlockTensors hold the checkpoint's values (before the
// conversions above) under their in-block names in the checkpoint's naming ("att.key.weight",
// "attention.time_decay", "ln1.bias"); the low-rank matrices, stored without ".weight"
// (blocks.N.att.w1), are held as "<name>.weight" like every linear's weight ("att.w1.weight").
Result<BlockTensors> load_block_tensors(const RwkvConfig& cfg, const Names& names,
                                        const WeightSource& weights, int layer);
// The checkpoint name of a BlockTensors entry of `layer`; empty when the block has none.
std::string block_tensor_name(const RwkvConfig& cfg, const Names& names, int layer,
                              std::string_view key);
// The BlockWeights of BlockTensors (every tensor present with its size, else invalid_argument).
Result<std::shared_ptr<const BlockWeights>> block_weights_of(const RwkvConfig& cfg,
                                                             const Names& names,
                                                             const BlockTensors& t);

// A linear's weight of the given shape (one of `shapes`), packed when the source holds it so.
Result<Matrix> load_matrix_checked(const WeightSource& weights, const std::string& name,
                                   const std::vector<std::vector<uint64_t>>& shapes);
// A tensor of the given shape (one of `shapes`), as f32.
Result<Vec> load_checked(const WeightSource& weights, const std::string& name,
                         const std::vector<std::vector<uint64_t>>& shapes);

}  // namespace sutra::model::rwkv
