#include "sutra/pipeline/quantize_gguf.hpp"

#include <chrono>

#include "sutra/base/memory.hpp"
#include "sutra/base/thread_pool.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/io/model_path.hpp"
#include "sutra/pipeline/awq_setup.hpp"
#include "sutra/pipeline/export_gguf.hpp"
#include "sutra/pipeline/gguf_checkpoint_source.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::pipeline {

namespace fs = std::filesystem;

Result<QuantizeExportReport> run_quantize_gguf(const QuantizeOptions& quant,
                                               const ExportOptions& exp,
                                               ProgressObserver* progress) {
    const auto t0 = std::chrono::steady_clock::now();
    if (quant.dry_run)
        return make_error(Errc::invalid_argument,
                          "--dry-run works with --format qbin only (it prints the quantization "
                          "plan); drop --format to see it");
    SUTRA_ASSIGN(io::Checkpoint ck, io::Checkpoint::open(quant.input));
    fs::path model_dir = exp.model_dir ? *exp.model_dir : ck.model_dir();
    SUTRA_TRY(io::check_output_path(exp.output, exp.force, ck.input_paths()));
    if (quant.method == "gptq" || quant.method == "awq+gptq")
        return make_error(
            Errc::unsupported,
            "--method " + quant.method +
                " writes sutra's grid, not llama.cpp's types; quantize to a .qbin "
                "(or --format autoawq), or use --method awq / rtn with --format gguf");
    SUTRA_ASSIGN(std::optional<AwqSetup> awq, prepare_awq(quant, ck));

    AwqOptions options = quant.awq;
    options.threads = quant.threads > 0 ? quant.threads : default_threads();
    if (awq) options.loss = awq->loss;
    const model::LlamaConfig no_config;
    SUTRA_ASSIGN(
        std::unique_ptr<CheckpointGgufSource> source,
        CheckpointGgufSource::create(ck, awq ? awq->config : no_config, awq ? &awq->calib : nullptr,
                                     awq.has_value(), options));
    ExportOptions e = exp;
    if (!e.tokenizer && quant.tokenizer) e.tokenizer = quant.tokenizer;
    if (e.threads == 0) e.threads = quant.threads;
    QuantizeExportReport rep;
    SUTRA_ASSIGN(rep.exported, write_gguf(*source, model_dir, e, ck.input_paths(), progress));

    QuantizeReport& q = rep.quantize;
    q.method = awq ? "awq" : "rtn";
    q.output = rep.exported.output;
    q.input_file_bytes = ck.total_file_bytes();
    q.output_file_bytes = rep.exported.output_bytes;
    q.ratio = q.output_file_bytes ? static_cast<double>(q.input_file_bytes) /
                                        static_cast<double>(q.output_file_bytes)
                                  : 0;
    for (const auto& t : rep.exported.tensors)
        (t.type == "F32" || t.type == "F16" ? q.kept : q.quantized) += 1;
    if (awq) {
        q.calib_windows = awq->calib.windows;
        q.calib_seq_len = awq->calib.seq_len;
        q.calib_text_tokens = awq->text_tokens;
        q.calib_tokenizer = awq->tokenizer;
        q.awq_loss = awq->loss == AwqLoss::per_linear ? "per_linear" : "module_output";
        q.calib_imatrix = awq->imatrix;
        q.awq = source->awq_reports();
    }
    q.threads = options.threads;
    q.isa = simd::active().name;
    q.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    q.peak_rss_bytes = peak_rss_bytes();
    return rep;
}

}  // namespace sutra::pipeline
