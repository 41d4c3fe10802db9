#include "quant_flags.hpp"

#include "sutra/plan/config.hpp"
#include "sutra/quant/quant_type.hpp"

namespace sutra::app {

void add_quant_flags(CLI::App& app, QuantFlags& f) {
    std::string presets;
    for (const auto& p : plan::preset_names())
        presets += (presets.empty() ? "" : ", ") + p;
    app.add_option("--preset", f.preset, "Preset: " + presets + " (default balanced)")
        ->check(choice_check("preset", plan::preset_names()));
    app.add_option("--config", f.config, "JSON config file layered on the preset (see README)");
    app.add_option("--bits", f.bits,
                   "Bits for every quantized tensor: 3, 4 or 8 (overrides preset/config)");
    app.add_option("--group-size", f.group,
                   "Group size for every quantized tensor: 32, 64, 128, 256 or row");
    app.add_option("--calib", f.calib,
                   "Activation statistics from `sutra calibrate`, or a llama.cpp imatrix "
                   "(imatrix.dat or GGUF) (enables AWQ)");
    app.add_option("--calib-text", f.calib_text,
                   "Calibrate on this text now (enables AWQ): plain text or JSON Lines with a "
                   "\"text\" field; repeat for several files");
    app.add_option("--calib-ids", f.calib_ids,
                   "Calibrate now on a file of whitespace-separated token ids (no tokenizer)");
    app.add_option("--calib-seed", f.calib_seed,
                   "With --calib-text: seed of the document order when a large corpus is "
                   "sampled (default 42)");
    app.add_option("--tokenizer", f.tokenizer,
                   "With --calib-text: tokenizer file or folder (default: the model folder's "
                   "tokenizer.json, tokenizer.model or tok512.bin)");
    app.add_option("--calib-tokens", f.calib_tokens,
                   "With --calib-text: text tokens used (default 16384, 0 = all)");
    app.add_option("--seq-len", f.seq_len,
                   "With --calib-text: calibration window length (default 256)");
    app.add_option("--awq-grid", f.grid, "AWQ: number of alpha values searched (default 20)");
    app.add_option("--awq-search", f.awq_search,
                   "AWQ: fast (every 4th alpha, then around the best: 9 of 20; default) or grid "
                   "(every alpha)")
        ->check(choice_check("AWQ search", {"fast", "grid"}));
    app.add_option("--awq-loss-tokens", f.awq_loss_tokens,
                   "AWQ: calibration tokens the alpha and clipping search run on, in evenly "
                   "spaced whole windows (default 4096, 0 = all; the statistics use all)");
    app.add_option("--awq-block", f.awq_block,
                   "AWQ and GPTQ: the family's own block code where it has one (family, "
                   "default: Llama's) or the generic one over the model interface (generic)")
        ->check(choice_check("AWQ block search", {"family", "generic"}));
    app.add_flag("--awq-duo", f.duo, "AWQ: scale by activation and weight salience (duo scaling)");
    auto* no_clip = app.add_flag("--no-clip", f.no_clip, "AWQ: skip the per-group clipping search");
    app.add_flag("--clip", f.clip,
                 "AWQ + GPTQ: run AWQ's clipping search too (off by default there: it is chosen "
                 "for RTN's rounding)")
        ->excludes(no_clip);
    app.add_option("--gptq-damp", f.gptq_damp,
                   "GPTQ: dampening added to the Hessian's diagonal, as a fraction of its mean "
                   "(default 0.01)");
    app.add_option("--gptq-block", f.gptq_block, "GPTQ: columns per lazy batch (default 128)");
    app.add_flag("--act-order", f.act_order,
                 "GPTQ: round columns by descending Hessian diagonal (groups stay static)");
    app.add_flag("--gptq-report-error", f.gptq_report_error,
                 "GPTQ: measure each linear's output error on the calibration inputs against "
                 "RTN's (one product per linear; reported with --json)");
    app.add_option("--awq-trials", f.awq_trials,
                   "AWQ + GPTQ: round the scale search's trials with gptq (scales chosen for the "
                   "rounding that follows; the default for Llama) or rtn (AWQ's own search; the "
                   "default and only choice for RWKV and Mamba)")
        ->check(choice_check("AWQ trial rounding", {"gptq", "rtn"}));
    app.add_option("--gptq-inputs", f.gptq_inputs,
                   "GPTQ: calibration inputs from the quantized-so-far model (sequential, "
                   "default) or the full-precision one (fp)")
        ->check(choice_check("GPTQ inputs", {"sequential", "fp"}));
    app.add_option("--awq-loss", f.awq_loss,
                   "AWQ: loss of the alpha and clipping search: module (the module's output on "
                   "calibration activations; default) or per-linear (from mean x^2 alone; the "
                   "default and only choice with an imatrix)")
        ->check(choice_check("AWQ loss", {"module", "per-linear"}));
    app.add_option("--max-memory", f.max_memory,
                   "Cap on resident memory (e.g. 512M, 2G): smaller row blocks; an error if the "
                   "model cannot fit");
}

Status apply_quant_flags(const QuantFlags& f, const GlobalOptions& g,
                         pipeline::QuantizeOptions& opt) {
    opt.preset = f.preset;
    if (!f.config.empty()) opt.config_file = f.config;
    if (f.bits != 0) {
        if (!quant::quant_type_for_bits(f.bits))
            return make_error(Errc::invalid_argument, "--bits must be 3, 4 or 8");
        opt.overrides.bits = f.bits;
    }
    if (!f.group.empty()) {
        if (f.group == "row") {
            opt.overrides.group_size = quant::kGroupRow;
        } else {
            uint32_t v = 0;
            for (auto x : quant::allowed_group_sizes())
                if (x != 0 && std::to_string(x) == f.group) v = x;
            if (v == 0)
                return make_error(Errc::invalid_argument,
                                  "--group-size must be 32, 64, 128, 256 or row");
            opt.overrides.group_size = v;
        }
    }
    if (!f.max_memory.empty()) {
        SUTRA_ASSIGN(opt.max_memory, parse_size(f.max_memory, "--max-memory"));
    }
    if (!f.calib.empty()) opt.calib = f.calib;
    if (!f.calib_ids.empty()) opt.calib_ids = f.calib_ids;
    opt.calib_text.assign(f.calib_text.begin(), f.calib_text.end());
    if (!f.tokenizer.empty()) opt.tokenizer = f.tokenizer;
    opt.calib_seed = f.calib_seed;
    opt.calib_tokens = f.calib_tokens;
    opt.calib_seq_len = f.seq_len;
    opt.awq.grid = f.grid;
    opt.awq.search = f.awq_search == "grid" ? pipeline::AwqSearch::grid : pipeline::AwqSearch::fast;
    opt.awq.loss_tokens = f.awq_loss_tokens;
    opt.awq.duo_scaling = f.duo;
    opt.awq.clip = !f.no_clip;
    opt.clip_forced = f.clip;
    if (!(f.gptq_damp >= 0.0 && f.gptq_damp <= 1.0))
        return make_error(Errc::invalid_argument, "--gptq-damp must be in [0, 1] (default 0.01)");
    if (f.gptq_block == 0 || f.gptq_block > 4096)
        return make_error(Errc::invalid_argument,
                          "--gptq-block must be in [1, 4096] (default 128)");
    opt.gptq.damp = f.gptq_damp;
    opt.gptq.block = f.gptq_block;
    opt.gptq.act_order = f.act_order;
    opt.gptq_fp_inputs = f.gptq_inputs == "fp";
    opt.gptq_report_error = f.gptq_report_error;
    if (!f.awq_trials.empty()) opt.awq_trials_gptq = f.awq_trials == "gptq";
    opt.awq_generic = f.awq_block == "generic";
    if (f.awq_loss == "module") opt.awq.loss = pipeline::AwqLoss::module_output;
    if (f.awq_loss == "per-linear") opt.awq.loss = pipeline::AwqLoss::per_linear;
    opt.threads = g.threads;
    return {};
}

}  // namespace sutra::app
