#pragma once
// Calibration data for activation-aware quantization: per-input-channel statistics of the
// activations feeding every linear layer, and the exact token windows they were measured on
// (so that a later step can run the forward pass on the same inputs again).
//
// Windows follow the evaluation protocol (model/evaluate.hpp): the text tokens (no BOS) are
// cut into consecutive chunks of seq_len - 1 tokens and each window is BOS + one chunk (for a
// family without a BOS, RWKV, chunks of seq_len tokens, each a window). Only full windows are
// used, so every window holds exactly seq_len tokens and the windows form
// a [windows, seq_len] matrix; a trailing partial chunk is left out.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/llama/llama_config.hpp"

namespace sutra::calib {

// Statistics of one linear layer's input over `tokens` rows (token positions), per input
// channel (each vector has in_features entries). Accumulated in double, stored as f32.
struct ChannelStats {
    std::vector<float> mean_abs;  // mean over tokens of |x_c|
    std::vector<float> mean_sq;   // mean over tokens of x_c^2
    std::vector<float> max_abs;   // max over tokens of |x_c|
    uint64_t tokens = 0;          // rows seen (BOS positions included)

    friend bool operator==(const ChannelStats&, const ChannelStats&) = default;
};

// The shape of the model a calibration file was made for, which the model it is used with must
// have. For the Llama family (`family` "llama"), the fields of its config.json, as the first
// calibration files recorded them; for another family (RWKV, Mamba), what model::ModelInfo
// says and what the linears of its blocks add up to. STATS.md gives both layouts.
struct ModelFingerprint {
    std::string family = "llama";     // model::ModelInfo::family
    std::string model_type;           // llama only
    int64_t hidden_size = 0;          // every family
    int64_t intermediate_size = 0;    // llama only
    int64_t num_hidden_layers = 0;    // every family ("num_layers" in another family's file)
    int64_t num_attention_heads = 0;  // llama only
    int64_t num_key_value_heads = 0;  // llama only
    int64_t head_dim = 0;             // llama only
    int64_t vocab_size = 0;           // every family
    std::string variant;              // not llama: model::ModelInfo::variant ("7", "5.2", "1")
    int64_t linears = 0;              // not llama: the recorded linears, lm_head included
    int64_t linear_weights = 0;       // not llama: sum of out * in over every block's linears

    static ModelFingerprint of(const model::LlamaConfig& c);
    // A Llama-family model gives of(its config); another family its ModelInfo and linears.
    static ModelFingerprint of(model::Model& m);
    // For messages: "a rwkv 7 model (hidden_size 64, num_layers 2, vocab_size 256, linears 17,
    // linear_weights 57344)", "a llama model (model_type \"llama\", hidden_size 64, ...)".
    std::string describe() const;
    friend bool operator==(const ModelFingerprint&, const ModelFingerprint&) = default;
};

struct CalibrationData {
    ModelFingerprint model;
    // Key: the linear's weight name without ".weight", e.g. "model.layers.3.mlp.down_proj",
    // "blocks.3.att.key" (RWKV), "backbone.layers.3.mixer.in_proj" (Mamba), and "lm_head" for
    // the output projection (also for a tied model, whose lm_head is the embedding table).
    std::map<std::string, ChannelStats> linears;
    std::vector<int32_t> tokens;  // [windows, seq_len] row-major; each row starts with bos_id
    int64_t seq_len = 0;
    int64_t windows = 0;
    int32_t bos_id = 1;  // -1: windows without a BOS (a family that has none: RWKV)

    friend bool operator==(const CalibrationData&, const CalibrationData&) = default;
};

// A linear layer whose input is recorded: its key in CalibrationData::linears, its layer
// (-1 for lm_head), its name inside the block as model::LinearObserver reports it
// ("self_attn.q_proj", ..., "lm_head") and its input width.
struct LinearInput {
    std::string key;
    int layer = -1;
    std::string linear;
    int64_t in_features = 0;
};

// Every recorded linear of a model, in forward order: per layer q, k, v, o, gate, up, down,
// then lm_head.
std::vector<LinearInput> linear_inputs(const model::LlamaConfig& c);
// Every recorded linear of a model of any family: per layer its block_linears() in order, keyed
// by model.linear_tensor(layer, name) without ".weight" (when the family names none:
// block_tensor(layer, name + ".weight") without it, else linear_key), then "lm_head" (layer -1,
// whatever the family calls its head; its input is hidden_size wide). For a Llama-family model the
// same list as linear_inputs(config).
std::vector<LinearInput> linear_inputs(const model::Model& m);

// "model.layers.{layer}.{linear}", or "lm_head" for layer -1.
std::string linear_key(int layer, std::string_view linear);

// The id every window of `m` starts with: bos_id when >= 0, else the model's own
// (ModelInfo::bos_id: for Llama config.json's bos_token_id, or 1; -1 for a family without
// one, RWKV, whose windows are text only).
int32_t window_start_id(const model::ModelInfo& m, int32_t bos_id);

// Cuts `text_tokens` (no BOS) into full windows of BOS + seq_len - 1 tokens (bos_id < 0:
// seq_len text tokens, for a model without a BOS), using at most
// the first `max_tokens` text tokens (0 = all). Returns the [windows, seq_len] matrix.
// invalid_argument when seq_len < 2, max_tokens < 0, or the text has fewer than seq_len - 1
// tokens (the message gives the counts and suggests a smaller --seq-len or a longer text).
struct Windows {
    std::vector<int32_t> tokens;
    int64_t seq_len = 0;
    int64_t count = 0;
};
Result<Windows> cut_windows(std::span<const int32_t> text_tokens, int64_t seq_len,
                            int64_t max_tokens, int32_t bos_id);

// The windows of `data` as views into data.tokens (each seq_len tokens, BOS first if any), e.g.
// to run them through Llama::forward. The views stay valid while `data.tokens` is not modified.
// Empty when tokens.size() != windows * seq_len (data that load_calibration would refuse).
std::vector<std::span<const int32_t>> windows_of(const CalibrationData& data);

}  // namespace sutra::calib
