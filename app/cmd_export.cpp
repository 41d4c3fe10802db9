// sutra export MODEL.qbin --format autoawq|gguf -o OUT [--force] [--json] [--keep-unsupported]
//   [--model-dir DIR] [--tokenizer PATH] [--gguf-type TYPE]
#include <memory>

#include "commands.hpp"
#include "export_render.hpp"
#include "sutra/pipeline/export.hpp"

namespace sutra::app {

Runner add_export(CLI::App& app, const GlobalOptions& g) {
    struct Args {
        std::string input, output, format, model_dir, tokenizer, gguf_type;
        bool force = false, json = false, keep_unsupported = false;
    };
    auto a = std::make_shared<Args>();
    app.add_option("qbin", a->input, "The .qbin file")->required();
    app.add_option("-o,--output", a->output, "Output: a folder (autoawq) or a .gguf file (gguf)")
        ->required();
    app.add_option("--format", a->format,
                   "autoawq (AutoAWQ GEMM folder for vLLM, transformers) or gguf (llama.cpp)")
        ->required();
    app.add_option("--model-dir", a->model_dir,
                   "Folder the model was quantized from (config.json, tokenizer, "
                   "generation_config.json); default: the .qbin's folder");
    app.add_option("--tokenizer", a->tokenizer,
                   "Tokenizer file or folder instead of the model folder's");
    app.add_flag("--keep-unsupported", a->keep_unsupported,
                 "autoawq: write linears the layout cannot hold in F16 (listed in "
                 "modules_to_not_convert) instead of refusing");
    app.add_option("--gguf-type", a->gguf_type,
                   "gguf: F32, F16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K or a mix such as Q4_K_M");
    app.add_flag("--force", a->force,
                 "Replace the output if it exists (a folder is replaced whole)");
    app.add_flag("--json", a->json, "Print the result as JSON on stdout");
    return [a, &g]() -> int {
        auto fmt = pipeline::parse_export_format(a->format);
        if (!fmt) return fail(fmt.error());
        pipeline::ExportOptions opt;
        opt.input = a->input;
        opt.output = a->output;
        opt.format = *fmt;
        if (!a->model_dir.empty()) opt.model_dir = a->model_dir;
        if (!a->tokenizer.empty()) opt.tokenizer = a->tokenizer;
        opt.force = a->force;
        opt.keep_unsupported = a->keep_unsupported;
        opt.gguf_type = a->gguf_type;
        opt.threads = g.threads;
        auto progress = make_progress(g);
        auto r = pipeline::run_export(opt, progress.get());
        if (!r) return fail(r.error());
        print_export(*r, g, a->json);
        return kExitOk;
    };
}

}  // namespace sutra::app
