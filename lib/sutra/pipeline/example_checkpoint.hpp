#pragma once
// Writes a deterministic, randomly initialised Llama-shaped checkpoint (config.json +
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
};

// "tiny" (hidden 128, 2 layers, vocab 512, ~0.6 M parameters) or "1b" (TinyLlama-1.1B shapes:
// hidden 2048, intermediate 5632, 22 layers, 32 heads, 4 KV heads, vocab 32000).
Result<ExampleShape> example_shape(std::string_view name);

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
