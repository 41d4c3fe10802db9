#pragma once
// Writes a deterministic, randomly initialised Llama-family checkpoint (config.json +
// model.safetensors) for examples, tests and benchmarks: users and CI need no downloaded
// model to try sutra. The same shape, dtype and seed always give the same bytes. Weights are
// streamed to disk tensor by tensor, so the 1B shape needs no more than a few MB of memory.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/dtype.hpp"
#include "sutra/base/error.hpp"

namespace sutra::pipeline {

struct ExampleShape {
    std::string name;
    uint64_t hidden = 128;
    uint64_t intermediate = 384;
    uint64_t layers = 2;
    uint64_t heads = 4;
    uint64_t kv_heads = 2;
    uint64_t vocab = 512;
    bool tie_embeddings = false;
    // The family shapes (tiny-llama3, tiny-mistral, tiny-qwen2, tiny-qwen3) set the rest;
    // the original shapes (tiny, 1b) keep these defaults and their exact bytes.
    std::string model_type = "llama";  // llama, mistral, qwen2 or qwen3 (q_norm / k_norm)
    uint64_t head_dim = 0;             // 0: hidden / heads
    bool attention_bias = false;       // llama, qwen3: q/k/v/o biases; qwen2 always q/k/v
    uint64_t sliding_window = 0;       // mistral; 0: null (full attention)
    double rope_theta = 10000.0;
    std::string rope_type = "default";        // "default", "linear" or "llama3"
    double rope_factor = 1.0;                 // linear and llama3
    uint64_t rope_original_max_position = 0;  // llama3
    double rms_norm_eps = 1e-5;
    uint64_t bos_token_id = 1, eos_token_id = 2;
    // Family initialisation: linear weights with spread sqrt(6 / fan_in) (unit-variance
    // outputs, so logits and attention scores are O(1) and every part of the block shows in
    // the logits), norm weights spread over [0.5, 1.5], biases, and a complete config.json for
    // the family that transformers loads. false: the original spreads and config.json.
    bool family_init = false;
    DType dtype = DType::F32;  // the dtype the shape is meant to be written in (make_example)

    uint64_t head_width() const { return head_dim ? head_dim : hidden / heads; }
};

// "tiny" (hidden 128, 2 layers, vocab 512, ~0.6 M parameters) or "1b" (TinyLlama-1.1B shapes:
// hidden 2048, intermediate 5632, 22 layers, 32 heads, 4 KV heads, vocab 32000), F32; and one
// small shape per family, hidden 64, 2 layers, 4 heads, 2 KV heads, intermediate 192, BF16:
//   tiny-llama3  Llama 3.1/3.2: rope_theta 500000, rope_scaling llama3 (factor 8, low 1, high 4,
//                original_max_position_embeddings 64, so that a sequence of a few dozen tokens
//                meets all three frequency bands), untied head, vocab 128256 (the Llama 3
//                tokenizer's)
//   tiny-mistral Mistral: sliding_window 16, head_dim 16, untied, vocab 32000 (the Mistral
//                tokenizer's)
//   tiny-qwen2   Qwen2/2.5: q/k/v biases, rope_theta 1e6, tied, vocab 151936 (Qwen's)
//   tiny-qwen3   Qwen3: q_norm/k_norm, head_dim 32 (hidden / heads is 16), tied, vocab 151936
Result<ExampleShape> example_shape(std::string_view name);
// Every shape name, for messages and --help.
const std::vector<std::string>& example_shape_names();

struct ExampleOptions {
    ExampleShape shape;
    DType dtype = DType::F32;  // F32, F16 or BF16
    uint64_t seed = 1;
    bool force = false;
};

struct ExampleReport {
    std::filesystem::path weights;
    uint64_t parameters = 0;
    uint64_t bytes = 0;
};

// Creates `dir` if needed and writes dir/config.json and dir/model.safetensors.
Result<ExampleReport> write_example_checkpoint(const std::filesystem::path& dir,
                                               const ExampleOptions& opt);

}  // namespace sutra::pipeline
