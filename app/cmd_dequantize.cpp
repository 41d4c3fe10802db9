// sutra dequantize MODEL.qbin -o OUT.safetensors [--dtype f32|f16|bf16|original]
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "sutra/pipeline/dequantize.hpp"

namespace sutra::app {

Runner add_dequantize(CLI::App& app, const GlobalOptions& g) {
    struct Args {
        std::string input, output, dtype = "f32";
        bool force = false, json = false;
    };
    auto a = std::make_shared<Args>();
    app.add_option("qbin", a->input, "The .qbin file")->required();
    app.add_option("-o,--output", a->output, "Output .safetensors file")->required();
    app.add_option("--dtype", a->dtype,
                   "f32 (default), f16, bf16, or original (each tensor's own dtype)");
    app.add_flag("--force", a->force, "Overwrite the output if it exists");
    app.add_flag("--json", a->json, "Print the result as JSON on stdout");
    return [a, &g]() -> int {
        auto dt = pipeline::parse_dequantize_dtype(a->dtype);
        if (!dt) return fail(dt.error());
        pipeline::DequantizeOptions opt;
        opt.input = a->input;
        opt.output = a->output;
        opt.dtype = *dt;
        opt.force = a->force;
        auto progress = make_progress(g);
        auto r = pipeline::run_dequantize(opt, progress.get());
        if (!r) return fail(r.error());
        if (a->json) {
            nlohmann::ordered_json j;
            j["schema"] = "sutra.dequantize/1";
            j["output"] = r->output;
            j["tensors"] = r->tensors;
            j["output_bytes"] = r->output_file_bytes;
            j["seconds"] = r->seconds;
            std::printf("%s\n", j.dump(2).c_str());
        } else {
            std::printf("wrote %s: %zu tensors, %s, %s s\n", r->output.c_str(), r->tensors,
                        human_bytes(r->output_file_bytes).c_str(), fixed(r->seconds, 3).c_str());
        }
        return kExitOk;
    };
}

}  // namespace sutra::app
