#pragma once
// AWQ for one decoder block of a Llama-family model: given the block's full-precision weights
// and its full-precision input activations on the calibration windows, search per-input-channel
// scales for each group of linears that share an input, fold 1/s into the preceding norm or
// linear, search per-group clipping bounds, and return the transformed weights, ready for
// round-to-nearest quantization. The transformed block computes the same function as the
// original (before quantization) up to float rounding.
//
// Scaling groups (as in llm-awq / AutoAWQ):
//   qkv:     q, k, v after input_layernorm          loss: self-attention output (o_proj included;
//                                                   for qwen3 the q/k norms too: they act on
//                                                   q and k after the projection, so folding
//                                                   1/s into input_layernorm stays exact)
//   o:       o after v (only when v's output width equals o's input width, i.e. no GQA, and v
//            has no bias; v has no norm in any family, so folding into v's rows is exact)
//                                                   loss: o_proj output
//   gate_up: gate, up after post_attention_layernorm loss: MLP output (down_proj included)
//   down:    down after up                          loss: down_proj output
// Losses are mean squared errors against the full-precision sub-layer, with the group's
// linears quantized (and scaled back) and everything else in full precision.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/llama.hpp"
#include "sutra/quant/awq.hpp"
#include "sutra/quant/layout.hpp"

namespace sutra::pipeline {

struct AwqOptions {
    int grid = 20;             // alpha = 0, 1/grid, ..., (grid-1)/grid
    bool duo_scaling = false;  // s = x^alpha / w^(1-alpha) instead of x^alpha
    bool clip = true;          // per-group clipping search (never for q and k)
    // When set (in [0, 1]), no search: every group takes this alpha (ablations, and tests of
    // the folding: with clip off the result is the exact transform of the block).
    std::optional<float> alpha;
    quant::ClipOptions clip_options;
    // Threads for the search: alphas (and clipping rows) are evaluated in parallel, each on
    // its own copy of the weights; the choice is the same for every thread count.
    unsigned threads = 1;
};

// How each of the seven linears of a block is stored: quantized with a layout, or kept.
// Index order: q, k, v, o, gate, up, down.
inline constexpr std::array<const char*, 7> kBlockLinears = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
struct BlockQuant {
    std::array<bool, 7> quantize{};
    std::array<quant::QuantLayout, 7> layout{};
};

struct AwqGroupReport {
    std::string group;  // "qkv", "o", "gate_up", "down"
    bool searched = false;
    float best_alpha = 0;
    double loss_plain = 0;  // alpha = 0: no scaling (plain RTN of the group)
    double loss_best = 0;
};

struct AwqBlockResult {
    model::BlockWeights weights;  // transformed: scaled, folded, clipped
    std::vector<AwqGroupReport> groups;
};

// x_mean: mean |x| per input channel for the inputs of q (= k = v), o, gate (= up), down, from
// the calibration statistics. inputs: the block's input activations, one per window (each a
// sequence starting at position 0).
Result<AwqBlockResult> awq_block(const model::Llama& llama, const model::BlockWeights& fp,
                                 const std::vector<model::Activations>& inputs,
                                 const std::array<std::vector<float>, 4>& x_mean,
                                 const BlockQuant& q, const AwqOptions& opt);

}  // namespace sutra::pipeline
