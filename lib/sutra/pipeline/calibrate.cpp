#include "sutra/pipeline/calibrate.hpp"

#include <chrono>

#include "sutra/calib/collect.hpp"
#include "sutra/calib/stats_file.hpp"
#include "sutra/io/output_file.hpp"
#include "sutra/model/model_source.hpp"
#include "sutra/model/text_tokens.hpp"

namespace sutra::pipeline {

Result<CalibrateReport> run_calibrate(const CalibrateOptions& opt, ProgressObserver* progress) {
    const auto t0 = std::chrono::steady_clock::now();
    if (opt.seq_len < 2)
        return make_error(
            Errc::invalid_argument,
            "--seq-len must be at least 2 (BOS + one token), got " + std::to_string(opt.seq_len));
    if (opt.max_tokens < 0)
        return make_error(Errc::invalid_argument, "--tokens must not be negative (0 = all)");
    SUTRA_ASSIGN(model::ModelSource src, model::open_model(opt.model, opt.model_dir));
    if (src.qbin)
        return make_error(
            Errc::invalid_argument,
            opt.model.string() + " is a .qbin; calibrate the original full-precision checkpoint");
    std::vector<std::filesystem::path> inputs = src.checkpoint->input_paths();
    inputs.insert(inputs.end(), opt.texts.begin(), opt.texts.end());
    if (opt.tokens) inputs.push_back(*opt.tokens);
    SUTRA_TRY(io::check_output_path(opt.output, opt.force, inputs));

    SUTRA_ASSIGN(std::unique_ptr<model::Model> runtime, model::open_runtime(src));
    model::TextInput in{opt.texts, opt.tokens, opt.tokenizer};
    SUTRA_ASSIGN(model::TextTokens text,
                 model::load_calib_tokens(src.dir, runtime->info(), in, opt.seq_len, opt.max_tokens,
                                          opt.seed));
    const std::vector<int32_t>& tokens = text.tokens;
    calib::CollectOptions co;
    co.seq_len = opt.seq_len;
    co.max_tokens = opt.max_tokens;
    co.bos_id = text.window_start;
    if (progress) {
        co.progress = [progress, started = false](int64_t done, int64_t total) mutable {
            if (!started) {
                progress->on_stage("calibrate", static_cast<uint64_t>(total));
                started = true;
            }
            progress->on_progress("blocks", static_cast<uint64_t>(done));
            return true;
        };
    }
    SUTRA_ASSIGN(calib::CalibrationData data, calib::collect_stats(*runtime, tokens, co));
    if (progress) progress->on_stage_end();
    SUTRA_TRY(calib::save_calibration(data, opt.output, opt.force, inputs));

    CalibrateReport rep;
    rep.model = opt.model.string();
    rep.output = opt.output.string();
    rep.text_tokens = text.tokens_read;
    rep.tokenizer = text.tokenizer;
    rep.documents = text.documents;
    rep.documents_used = text.documents_used;
    rep.windows = data.windows;
    rep.seq_len = data.seq_len;
    rep.used_tokens = data.windows * (data.bos_id >= 0 ? data.seq_len - 1 : data.seq_len);
    rep.positions = data.windows * data.seq_len;
    rep.linears = static_cast<int64_t>(data.linears.size());
    std::error_code ec;
    const auto size = std::filesystem::file_size(opt.output, ec);
    rep.bytes = ec ? 0 : size;
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return rep;
}

}  // namespace sutra::pipeline
