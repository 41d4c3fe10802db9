#pragma once
// The linears and AWQ scaling groups of an RWKV block (model/family.hpp's block view). Every
// fold keeps the block's function exactly (up to rounding):
//
//   att.mix   the linears fed by the token-shift mixes of ln1's output (key, value, receptance;
//             gate in 5.2/6; time_maa_w1 and time_decay_w1 in 6; w1, a1, v1, g1 in 7): every
//             mix is linear in ln1's output (this token's and, through the shift, the
//             previous one's), so 1/s folds into ln1.weight and ln1.bias (loss: module "att")
//   att.output  v4: r * wkv is linear in v: rows of att.value.weight; 5.2/6: the gated group
//             norm (gn * ln_x.w + ln_x.b) * g: ln_x.weight and .bias; 7: y * g with
//             g = sigmoid(.) g2: rows of att.g2
//   att.a2, att.v2 (7)  inputs xa a1^T, xv v1^T: rows of a1, v1
//   ffn.mix   ffn.key (and ffn.receptance before 7) fed by mixes of ln2's output: ln2 (loss
//             "ffn")
//   ffn.value  input relu(k)^2: rows of ffn.key.weight by sqrt(s)
// w2, g2's input (tanh / sigmoid), time_decay_w2 and v6's time_maa_w2 stack get no group.
// Clipping is off for what feeds an exponential: v4's key, the decay's low-rank matrices.
// Names are the checkpoint's in-block names ("attention.key" in Hugging Face files).
#include <vector>

#include "sutra/model/family.hpp"
#include "sutra/model/rwkv/rwkv_config.hpp"
#include "sutra/model/rwkv/rwkv_names.hpp"

namespace sutra::model::rwkv {

std::vector<BlockLinear> linears_of_block(const RwkvConfig& cfg, const Names& names, int layer);
std::vector<ScaleGroup> scale_groups_of_block(const RwkvConfig& cfg, const Names& names, int layer);

}  // namespace sutra::model::rwkv
