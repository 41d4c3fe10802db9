// sutra-make-example DIR [--shape NAME] [--dtype f32|f16|bf16] [--seed N] [--force]
// Writes a deterministic Llama-family checkpoint for examples, tests and benchmarks.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "sutra/io/output_file.hpp"
#include "sutra/pipeline/dequantize.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"

int main(int argc, char** argv) {
    sutra::io::install_signal_cleanup();
    CLI::App app{"Write a deterministic, randomly initialised Llama-family safetensors checkpoint"};
    std::string dir, shape = "tiny", dtype;
    uint64_t seed = 1;
    bool force = false;
    app.add_option("dir", dir, "Output folder (gets config.json and model.safetensors)")
        ->required();
    app.add_option("--shape", shape,
                   "tiny (0.6 M parameters), 1b (TinyLlama-1.1B shapes), or one small model per "
                   "family (hidden 64, 2 layers): tiny-llama3 (rope_scaling llama3, GQA, untied, "
                   "vocab 128256), tiny-mistral (sliding window 16, vocab 32000), tiny-qwen2 "
                   "(q/k/v biases, tied, vocab 151936), tiny-qwen3 (q_norm/k_norm, head_dim 32, "
                   "tied, vocab 151936)");
    app.add_option("--dtype", dtype,
                   "f32, f16 or bf16 (default: f32 for tiny and 1b, bf16 "
                   "for the tiny-<family> shapes)");
    app.add_option("--seed", seed, "Random seed");
    app.add_flag("--force", force, "Overwrite an existing model.safetensors");
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return 2;
    }
    auto s = sutra::pipeline::example_shape(shape);
    if (!s) {
        std::fprintf(stderr, "sutra-make-example: error: %s\n", s.error().message.c_str());
        return 2;
    }
    sutra::DType out_dtype = s->dtype;
    if (!dtype.empty()) {
        auto d = sutra::pipeline::parse_dequantize_dtype(dtype);
        if (!d || !d->has_value()) {
            std::fprintf(stderr, "sutra-make-example: error: --dtype must be f32, f16 or bf16\n");
            return 2;
        }
        out_dtype = **d;
    }
    sutra::pipeline::ExampleOptions opt{*s, out_dtype, seed, force};
    auto r = sutra::pipeline::write_example_checkpoint(dir, opt);
    if (!r) {
        std::fprintf(stderr, "sutra-make-example: error: %s\n", r.error().message.c_str());
        return 2;
    }
    std::printf("wrote %s: %llu parameters, %llu bytes\n", r->weights.string().c_str(),
                static_cast<unsigned long long>(r->parameters),
                static_cast<unsigned long long>(r->bytes));
    return 0;
}
