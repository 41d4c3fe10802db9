#include "sutra/pipeline/quantize.hpp"
#include "sutra/pipeline/awq_setup.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "sutra/base/checksum.hpp"
#include "sutra/base/memory.hpp"
#include "sutra/base/thread_pool.hpp"
#include "sutra/calib/collect.hpp"
#include "sutra/calib/imatrix_file.hpp"
#include "sutra/calib/stats_file.hpp"
#include "sutra/format/qbin_writer.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/io/file.hpp"
#include "sutra/io/output_file.hpp"
#include "sutra/io/strict_json.hpp"
#include "sutra/model/family_registry.hpp"
#include "sutra/model/llama/llama.hpp"
#include "sutra/model/llama/llama_family.hpp"
#include "sutra/model/text_tokens.hpp"
#include "sutra/model/weights.hpp"
#include "sutra/parts/part_file.hpp"
#include "sutra/pipeline/quantize_awq_family.hpp"
#include "sutra/pipeline/quantize_data_free.hpp"
#include "sutra/pipeline/quantize_gptq_family.hpp"
#include "sutra/pipeline/stream_quantize.hpp"
#include "sutra/pipeline/tensor_writer.hpp"
#include "sutra/plan/method.hpp"
#include "sutra/quant/quant_type.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::pipeline {
namespace fs = std::filesystem;

namespace {

using ojson = nlohmann::ordered_json;

ojson config_record(const QuantizeOptions& opt, const plan::QuantConfig& cfg) {
    ojson c;
    c["preset"] = opt.preset;
    if (opt.config_file) c["config_file"] = opt.config_file->filename().string();
    c["resolved"] = cfg.to_json();
    ojson o = ojson::object();
    if (opt.overrides.bits) o["bits"] = *opt.overrides.bits;
    if (opt.overrides.group_size)
        o["group_size"] = plan::group_size_text(*opt.overrides.group_size);
    c["overrides"] = std::move(o);
    return c;
}

ojson source_record(const io::Checkpoint& ck) {
    ojson s;
    ojson files = ojson::array();
    for (const auto& f : ck.files())
        files.push_back(f.path().filename().string());
    s["files"] = std::move(files);
    s["bytes"] = ck.total_file_bytes();
    ojson meta = ojson::object();
    for (const auto& [k, v] : ck.metadata())
        meta[k] = v;
    s["metadata"] = std::move(meta);
    return s;
}

// What identifies the checkpoint for parts: a checksum of its headers' content (every
// tensor's name, dtype, shape and place, the metadata) and its files' sizes.
std::string checkpoint_fingerprint(const io::Checkpoint& ck) {
    ojson j;
    ojson ts = ojson::array();
    for (const auto& t : ck.tensors())
        ts.push_back(
            {t.name, std::string(dtype_name(t.dtype)), t.shape, t.shard, t.file_offset, t.nbytes});
    j["tensors"] = std::move(ts);
    ojson sizes = ojson::array();
    for (const auto& f : ck.files())
        sizes.push_back(f.size());
    j["file_sizes"] = std::move(sizes);
    ojson meta = ojson::array();
    for (const auto& [k, v] : ck.metadata())
        meta.push_back({k, v});
    j["metadata"] = std::move(meta);
    const std::string text = j.dump();
    return hex64(xxh3_64({reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
}

Result<std::vector<format::QbinRecord>> make_records(const io::Checkpoint& ck, const plan::Plan& p,
                                                     const std::vector<bool>& transformed) {
    std::vector<format::QbinRecord> recs;
    std::unordered_set<std::string> names;
    for (const auto& tp : p.tensors) {
        const auto& t = ck.tensors()[tp.index];
        format::QbinRecord r;
        r.name = t.name;
        r.dtype = t.dtype;
        r.shape = t.shape;
        r.role = std::string(plan::role_name(tp.role));
        r.transformed = transformed[tp.index];
        r.quantized = tp.quantize;
        if (tp.quantize) {
            r.bits = tp.bits;
            r.group_size = tp.group_size;
            r.layout = tp.layout;
            for (auto part : format::kQuantParts)
                r.stored.push_back(t.name + "." + std::string(part));
        } else {
            r.stored.push_back(t.name);
        }
        for (const auto& s : r.stored)
            if (!names.insert(s).second)
                return make_error(Errc::unsupported,
                                  "tensor name '" + s +
                                      "' would be stored twice (the checkpoint already has a "
                                      "tensor of that name); keep '" +
                                      t.name + "' with a rule");
        recs.push_back(std::move(r));
    }
    return recs;
}

// The AWQ loss: as asked, else per-linear for an imatrix (it has no activations), else the
// module output.
Result<AwqLoss> resolve_awq_loss(const QuantizeOptions& opt, bool imatrix) {
    const AwqLoss loss =
        opt.awq.loss.value_or(imatrix ? AwqLoss::per_linear : AwqLoss::module_output);
    if (imatrix && loss == AwqLoss::module_output)
        return make_error(Errc::invalid_argument,
                          opt.calib->string() +
                              ": a llama.cpp imatrix holds no activations, so AWQ cannot use the "
                              "module-output loss with it; drop --awq-loss module, or calibrate "
                              "with `sutra calibrate` / --calib-text");
    return loss;
}

// The model as its family runs it, for the plan's keep rules and AWQ: null when no family
// claims the checkpoint, or when it cannot be run and the method does not need to (RTN and
// data-free quantization stream any safetensors file).
Result<std::unique_ptr<model::Model>> open_family(const io::Checkpoint& ck,
                                                  const model::WeightSource& w,
                                                  const QuantizeOptions& opt) {
    std::optional<nlohmann::json> cfg;
    const fs::path cj = ck.model_dir() / "config.json";
    std::error_code ec;
    if (fs::is_regular_file(cj, ec)) {
        auto j = io::read_strict_json_file(cj.string());
        if (j) cfg = std::move(*j);
    }
    auto entry = model::detect_family(cfg ? &*cfg : nullptr, w, opt.input.string());
    if (!entry) return std::unique_ptr<model::Model>();
    auto m = (*entry)->open(cfg ? &*cfg : nullptr, w, model::ModelOptions{});
    if (!m) {
        const bool needs =
            opt.method != "rtn" && (opt.calib || !opt.calib_text.empty() || opt.calib_ids);
        if (needs) return m.error();
        return std::unique_ptr<model::Model>();
    }
    return std::move(*m);
}

// The generic path's calibration from `sutra calibrate`'s file (--calib): its windows
// (calib.tokens), checked against the model (calib::load_calibration). A llama.cpp imatrix
// names llama.cpp's Llama tensors and holds no windows, so it cannot calibrate this path.
Result<std::optional<AwqSetup>> family_setup_from_stats(const QuantizeOptions& opt,
                                                        model::Model& m) {
    SUTRA_ASSIGN(const calib::CalibFileKind kind, calib::sniff_calib_path(*opt.calib));
    const bool imatrix =
        kind == calib::CalibFileKind::imatrix_gguf || kind == calib::CalibFileKind::imatrix_legacy;
    const std::string& family = m.info().family;
    if (imatrix && family == "llama")
        return make_error(Errc::invalid_argument,
                          opt.calib->string() +
                              ": a llama.cpp imatrix drives Llama's own AWQ "
                              "block only; drop --awq-block generic");
    if (imatrix)
        return make_error(Errc::invalid_argument,
                          opt.calib->string() +
                              ": a llama.cpp imatrix calibrates Llama-family models only (this "
                              "is a " +
                              family +
                              " model); make a statistics file with `sutra calibrate MODEL "
                              "--text FILE -o stats.safetensors`, or use --calib-text FILE");
    AwqSetup s;
    s.family_path = true;
    SUTRA_ASSIGN(s.loss, resolve_awq_loss(opt, false));
    SUTRA_ASSIGN(s.calib, calib::load_calibration(*opt.calib, m));
    for (const std::span<const int32_t> w : calib::windows_of(s.calib))
        s.family_windows.emplace_back(w.begin(), w.end());
    return std::optional<AwqSetup>(std::move(s));
}

// The generic path's calibration: windows of the text or token ids, each from the initial
// state (with the model's BOS first when it has one).
Result<std::optional<AwqSetup>> prepare_family_awq(const QuantizeOptions& opt,
                                                   const io::Checkpoint& ck, model::Model& m) {
    const std::string family = m.info().family;
    // awq, gptq and awq+gptq (pipeline/quantize_gptq_family); AWQ's trials by RTN only.
    if (opt.method == "awq+gptq" && opt.awq_trials_gptq.value_or(false))
        return make_error(Errc::unsupported,
                          "--awq-trials gptq is for Llama's own AWQ block search; AWQ + GPTQ on " +
                              family +
                              " models rounds AWQ's trials with RTN: use --awq-trials "
                              "rtn (the default there)");
    if (opt.calib) return family_setup_from_stats(opt, m);
    AwqSetup s;
    s.family_path = true;
    SUTRA_ASSIGN(s.loss, resolve_awq_loss(opt, false));
    const model::TextInput in{opt.calib_text, opt.calib_ids, opt.tokenizer};
    SUTRA_ASSIGN(model::TextTokens text,
                 model::load_calib_tokens(ck.model_dir(), m.info(), in, opt.calib_seq_len,
                                          opt.calib_tokens, opt.calib_seed));
    s.tokenizer = text.tokenizer;
    s.text_tokens = text.tokens_read;
    const int32_t bos = opt.calib_ids ? m.info().bos_id : text.window_start;
    SUTRA_ASSIGN(calib::Windows win,
                 calib::cut_windows(text.tokens, opt.calib_seq_len, opt.calib_tokens, bos));
    s.calib.windows = win.count;
    s.calib.seq_len = win.seq_len;
    s.calib.bos_id = bos;
    for (int64_t i = 0; i < win.count; ++i) {
        const auto b = win.tokens.begin() + static_cast<std::ptrdiff_t>(i * win.seq_len);
        s.family_windows.emplace_back(b, b + static_cast<std::ptrdiff_t>(win.seq_len));
    }
    return std::optional<AwqSetup>(std::move(s));
}

}  // namespace

// Decides the method and gathers what AWQ needs: the model config and calibration data, from
// a statistics file or computed now from a text (one full-precision pass, block by block).
Result<std::optional<AwqSetup>> prepare_awq(const QuantizeOptions& opt, const io::Checkpoint& ck,
                                            model::Model* family) {
    const bool have_calib = opt.calib || !opt.calib_text.empty() || opt.calib_ids;
    SUTRA_TRY(plan::parse_method(opt.method));
    if (opt.calib && !opt.calib_text.empty())
        return make_error(Errc::invalid_argument,
                          "give --calib (statistics) or --calib-text (text), not both");
    if (static_cast<int>(!opt.calib_text.empty()) + opt.calib.has_value() +
            opt.calib_ids.has_value() >
        1)
        return make_error(Errc::invalid_argument,
                          "give one of --calib (statistics), --calib-text (text) and --calib-ids "
                          "(token ids)");
    const bool gptq = opt.method == "gptq" || opt.method == "awq+gptq";
    if ((opt.method == "awq" || gptq) && !have_calib)
        return make_error(Errc::invalid_argument,
                          "--method " + opt.method +
                              " needs calibration: --calib stats.safetensors (from `sutra "
                              "calibrate`) or --calib-text FILE");
    if (opt.method == "rtn" || !have_calib) return std::optional<AwqSetup>();
    AwqSetup s;
    if (family && (opt.awq_generic || !model::llama::as_llama(*family)))
        return prepare_family_awq(opt, ck, *family);
    const fs::path cfg = ck.model_dir() / "config.json";
    if (!fs::exists(cfg))
        return make_error(Errc::not_found, cfg.string() +
                                               ": AWQ runs the model and needs its config.json; "
                                               "quantize without --calib / --calib-text instead");
    SUTRA_ASSIGN(s.config, model::read_llama_config(cfg));
    if (opt.calib) {
        // sutra's statistics or a llama.cpp imatrix (either layout), told apart by content.
        SUTRA_ASSIGN(const calib::CalibFileKind kind, calib::sniff_calib_path(*opt.calib));
        if (kind == calib::CalibFileKind::imatrix_gguf ||
            kind == calib::CalibFileKind::imatrix_legacy) {
            if (gptq)
                return make_error(Errc::invalid_argument,
                                  opt.calib->string() + ": --method " + opt.method +
                                      " needs calibration activations, and a llama.cpp imatrix "
                                      "holds only their mean squares; calibrate with "
                                      "--calib-text or `sutra calibrate`");
            calib::ImatrixInfo info;
            SUTRA_ASSIGN(s.calib, calib::load_imatrix(*opt.calib, s.config, &info));
            s.imatrix = std::move(info);
        } else {
            SUTRA_ASSIGN(s.calib, calib::load_calibration(*opt.calib, s.config));
        }
        SUTRA_ASSIGN(s.loss, resolve_awq_loss(opt, s.imatrix.has_value()));
        return std::optional<AwqSetup>(std::move(s));
    }
    SUTRA_ASSIGN(s.loss, resolve_awq_loss(opt, false));
    const model::TextInput in{opt.calib_text, opt.calib_ids, opt.tokenizer};
    SUTRA_ASSIGN(model::TextTokens text,
                 model::load_calib_tokens(ck.model_dir(), s.config, in, opt.calib_seq_len,
                                          opt.calib_tokens, opt.calib_seed));
    s.tokenizer = text.tokenizer;
    s.text_tokens = text.tokens_read;
    const std::vector<int32_t>& tokens = text.tokens;
    if (opt.dry_run) {  // the windows decide the header's size; the statistics are not needed
        SUTRA_ASSIGN(calib::Windows win, calib::cut_windows(tokens, opt.calib_seq_len,
                                                            opt.calib_tokens, text.window_start));
        s.calib.windows = win.count;
        s.calib.seq_len = win.seq_len;
        return std::optional<AwqSetup>(std::move(s));
    }
    if (opt.method == "gptq") {  // GPTQ needs the windows only, not AWQ's statistics
        const int32_t bos = calib::window_start_id(s.config, text.window_start);
        SUTRA_ASSIGN(calib::Windows win,
                     calib::cut_windows(tokens, opt.calib_seq_len, opt.calib_tokens, bos));
        s.calib.tokens = std::move(win.tokens);
        s.calib.windows = win.count;
        s.calib.seq_len = win.seq_len;
        s.calib.bos_id = bos;
        return std::optional<AwqSetup>(std::move(s));
    }
    model::CheckpointWeights weights(ck);
    SUTRA_ASSIGN(model::Llama llama, model::Llama::create(s.config, weights));
    calib::CollectOptions co;
    co.seq_len = opt.calib_seq_len;
    co.max_tokens = opt.calib_tokens;
    co.bos_id = text.window_start;
    SUTRA_ASSIGN(s.calib, calib::collect_stats(llama, tokens, co));
    return std::optional<AwqSetup>(std::move(s));
}

namespace {

// The tensors whose stored values AWQ or data-free salience will transform.
std::vector<bool> transformed_tensors(const io::Checkpoint& ck,
                                      const model::LlamaConfig* awq_config,
                                      const std::vector<NormGroup>* data_free_groups,
                                      const model::Model* awq_family) {
    std::vector<bool> t(ck.tensors().size(), false);
    if (awq_family)
        for (const std::string& n : family_awq_tensors(*awq_family))
            if (const io::TensorRef* r = ck.find(n))
                t[static_cast<size_t>(r - ck.tensors().data())] = true;
    if (awq_config) {
        const char* extra[] = {"input_layernorm.weight", "post_attention_layernorm.weight",
                               "self_attn.q_proj.bias", "self_attn.k_proj.bias",
                               "self_attn.v_proj.bias"};
        for (int l = 0; l < awq_config->num_hidden_layers; ++l) {
            std::vector<std::string> names;
            for (const char* lin : kBlockLinears)
                names.push_back(model::Llama::layer_tensor(l, std::string(lin) + ".weight"));
            for (const char* e : extra)
                names.push_back(model::Llama::layer_tensor(l, e));
            for (const auto& n : names)
                if (const io::TensorRef* r = ck.find(n))
                    t[static_cast<size_t>(r - ck.tensors().data())] = true;
        }
    }
    if (data_free_groups) {
        for (const auto& g : *data_free_groups) {
            t[g.norm] = true;
            for (size_t li : g.linears)
                t[li] = true;
        }
    }
    return t;
}

ojson awq_record(const AwqOptions& o, const calib::CalibrationData& c, const AwqSetup& setup) {
    ojson j;
    j["grid"] = o.grid;
    j["duo_scaling"] = o.duo_scaling;
    j["clip"] = o.clip;
    j["clip_grid"] = o.clip_options.grid;
    j["clip_max_shrink_percent"] = static_cast<int>(o.clip_options.max_shrink * 100.0f + 0.5f);
    j["clip_tokens"] = o.clip_options.max_tokens;
    j["search"] = o.search == AwqSearch::grid ? "grid" : "fast";
    j["loss_tokens"] = o.loss_tokens;
    j["calib_windows"] = c.windows;
    j["calib_seq_len"] = c.seq_len;
    // Only when not the default, so that the records of earlier outputs keep their bytes.
    if (setup.loss == AwqLoss::per_linear) j["loss"] = "per_linear";
    if (setup.imatrix) {
        ojson m;
        m["layout"] = std::string(calib::imatrix_layout_name(setup.imatrix->layout));
        m["chunk_count"] = setup.imatrix->chunk_count;
        m["chunk_size"] = setup.imatrix->chunk_size;
        m["datasets"] = setup.imatrix->datasets;
        j["imatrix"] = std::move(m);
    }
    return j;
}

// AWQ's options as the method runs them: AWQ + GPTQ clips only with --clip.
AwqOptions awq_options_for(const QuantizeOptions& o) {
    AwqOptions a = o.awq;
    if (o.method == "awq+gptq") a.clip = o.clip_forced;
    return a;
}

// trials_gptq: AWQ + GPTQ rounds AWQ's trials with GPTQ (Llama's own block search).
ojson gptq_record(const QuantizeOptions& o, const calib::CalibrationData& c, bool trials_gptq) {
    ojson j;
    j["damp"] = o.gptq.damp;
    j["block"] = o.gptq.block;
    j["act_order"] = o.gptq.act_order;
    j["inputs"] = o.gptq_fp_inputs ? "full_precision" : "sequential";
    if (o.method == "awq+gptq") j["awq_trial_rounding"] = trials_gptq ? "gptq" : "rtn";
    j["calib_windows"] = c.windows;
    j["calib_seq_len"] = c.seq_len;
    return j;
}

// A byte count for messages: MiB when at least one, else bytes.
std::string mib_text(uint64_t bytes) {
    if (bytes < (1u << 20)) return std::to_string(bytes) + " bytes";
    return std::to_string(bytes >> 20) + " MiB";
}

// Threads and block size, shrunk to fit --max-memory (with what the process already holds).
Result<StreamOptions> stream_options(const QuantizeOptions& opt,
                                     const std::vector<format::QbinRecord>& records) {
    StreamOptions s;
    s.threads = opt.threads ? opt.threads : default_threads();
    s.block_bytes = opt.chunk_bytes;
    if (opt.max_memory == 0) return s;
    const uint64_t base = current_rss_bytes() + (8u << 20);  // plus room for the allocator
    const uint64_t at_least = [&] {
        StreamOptions one = s;
        one.block_bytes = 1;
        return base + stream_memory_bound(records, one);
    }();
    if (opt.max_memory < at_least)
        return make_error(Errc::invalid_argument,
                          "--max-memory " + mib_text(opt.max_memory) +
                              " is below what this model needs with " + std::to_string(s.threads) +
                              " threads (" + std::to_string((at_least + (1u << 20) - 1) >> 20) +
                              " MiB: the process itself plus one row of its widest tensor per "
                              "buffer); raise it or use fewer --threads");
    while (s.block_bytes > 4096 && base + stream_memory_bound(records, s) > opt.max_memory)
        s.block_bytes /= 2;
    return s;
}

// What the data-free path holds at its peak: the f32 weights of its largest norm group.
uint64_t data_free_memory_estimate(const io::Checkpoint& ck, const std::vector<NormGroup>& groups) {
    uint64_t most = 0;
    for (const auto& g : groups) {
        uint64_t n = ck.tensors()[g.norm].numel;
        for (size_t li : g.linears)
            n += ck.tensors()[li].numel;
        most = std::max(most, 4 * n);
    }
    return most + most / 8;  // and the row blocks being quantized
}

// What the AWQ path holds at its peak, roughly: one block's f32 weights twice (original and
// transformed) plus two per search thread (a trial and its fake-quantized copy), and the
// calibration activations traced through the block.
uint64_t awq_memory_estimate(const model::LlamaConfig& c, const calib::CalibrationData& cal,
                             unsigned threads) {
    const auto H = static_cast<uint64_t>(c.hidden_size);
    const auto I = static_cast<uint64_t>(c.intermediate_size);
    const auto QW = static_cast<uint64_t>(c.q_width()), KV = static_cast<uint64_t>(c.kv_width());
    const uint64_t block = 4 * (H * QW + 2 * H * KV + QW * H + 3 * H * I + 2 * H);
    const uint64_t tokens = static_cast<uint64_t>(cal.windows) * static_cast<uint64_t>(cal.seq_len);
    const uint64_t acts = 4 * tokens * (5 * H + QW + 2 * I);
    return block * (2 + 2 * static_cast<uint64_t>(threads)) + acts;
}

// What the GPTQ path holds at its peak, roughly: the block's f32 weights twice (given and
// running), the calibration activations of two stages at once plus the residual stream (and
// AWQ's own when combined), and for the widest input the Hessian sum and its factorisation
// (double, one copy more with act-order) and the f32 factor.
uint64_t gptq_memory_estimate(const model::LlamaConfig& c, const calib::CalibrationData& cal,
                              const QuantizeOptions& opt, unsigned threads) {
    const auto H = static_cast<uint64_t>(c.hidden_size);
    const auto I = static_cast<uint64_t>(c.intermediate_size);
    const auto QW = static_cast<uint64_t>(c.q_width()), KV = static_cast<uint64_t>(c.kv_width());
    const uint64_t block = 4 * (H * QW + 2 * H * KV + QW * H + 3 * H * I + 2 * H);
    const uint64_t tokens = static_cast<uint64_t>(cal.windows) * static_cast<uint64_t>(cal.seq_len);
    const uint64_t acts = 4 * tokens * (3 * H + std::max(I, QW) + H);
    const uint64_t wide = std::max(H, I);
    const uint64_t hessian = wide * wide * (8 * (opt.gptq.act_order ? 3 : 2) + 4);
    uint64_t need = 2 * block + acts + hessian;
    if (opt.method == "awq+gptq") need += awq_memory_estimate(c, cal, threads);
    return need;
}

}  // namespace

Result<plan::QuantConfig> resolve_config(const QuantizeOptions& opt) {
    SUTRA_ASSIGN(plan::QuantConfig cfg, plan::load_preset(opt.preset));
    if (opt.config_file) {
        SUTRA_ASSIGN(plan::QuantConfig file, plan::load_config_file(opt.config_file->string()));
        cfg = plan::layer_config(cfg, file);
    }
    return cfg;
}

Result<QuantizeReport> run_quantize(const QuantizeOptions& opt, ProgressObserver* progress) {
    const auto t0 = std::chrono::steady_clock::now();
    if (opt.chunk_bytes == 0)
        return make_error(Errc::invalid_argument, "chunk size must be positive");
    // GPTQ parts: only plain GPTQ on full-precision inputs, through Llama's own block code
    // (the part carries the inputs through the blocks before its own). Sequential inputs come
    // from the blocks quantized before, and AWQ + GPTQ from AWQ-transformed blocks.
    if (opt.part && (opt.method == "awq+gptq" ||
                     (opt.method == "gptq" && (!opt.gptq_fp_inputs || opt.awq_generic))))
        return make_error(
            Errc::invalid_argument,
            "--part: " + std::string(opt.method == "gptq" ? "GPTQ" : "AWQ + GPTQ") +
                " can be split only as GPTQ on full-precision inputs (--method gptq "
                "--gptq-inputs fp, Llama's own block code): otherwise each block is calibrated "
                "on the outputs of the blocks quantized before it; use that, --method awq or "
                "rtn, or quantize on one machine");
    SUTRA_ASSIGN(plan::QuantConfig cfg, resolve_config(opt));
    SUTRA_ASSIGN(io::Checkpoint ck, io::Checkpoint::open(opt.input));
    const model::CheckpointWeights family_weights(ck);
    SUTRA_ASSIGN(std::unique_ptr<model::Model> family, open_family(ck, family_weights, opt));
    plan::FamilyKeep keep;
    if (family) keep = [&m = *family](std::string_view t) { return m.keep_reason(t); };
    SUTRA_ASSIGN(plan::Plan p, plan::make_plan(ck, cfg, opt.overrides, keep));
    if (opt.part && opt.method == "gptq" && family && !model::llama::as_llama(*family))
        return make_error(Errc::invalid_argument,
                          "--part: GPTQ of a " + family->info().family +
                              " model (the generic block code) cannot be split yet; use "
                              "--method awq or rtn, or quantize on one machine");
    SUTRA_ASSIGN(std::optional<AwqSetup> awq, prepare_awq(opt, ck, family.get()));
    const bool family_awq = awq && awq->family_path;
    const std::vector<NormGroup> groups = find_norm_groups(ck);
    const bool data_free =
        !awq && opt.method != "rtn" && cfg.salience_threshold.has_value() && !groups.empty();
    SUTRA_ASSIGN(std::vector<format::QbinRecord> records,
                 make_records(ck, p,
                              transformed_tensors(ck, awq && !family_awq ? &awq->config : nullptr,
                                                  data_free ? &groups : nullptr,
                                                  family_awq ? family.get() : nullptr)));

    ojson extra;
    extra["tool"] = std::string("sutra ") + SUTRA_VERSION;
    extra["config"] = config_record(opt, cfg);
    extra["source"] = source_record(ck);
    const bool gptq = awq && (opt.method == "gptq" || opt.method == "awq+gptq");
    extra["method"] = gptq ? opt.method : awq ? "awq" : (data_free ? "data-free" : "rtn");
    if (awq && opt.method != "gptq")
        extra["awq"] = awq_record(awq_options_for(opt), awq->calib, *awq);
    if (gptq)
        extra["gptq"] =
            gptq_record(opt, awq->calib, !family_awq && opt.awq_trials_gptq.value_or(true));
    QuantizeReport rep;
    // The model's config.json travels with the weights, so the .qbin can be run on its own.
    const fs::path cfg_path = ck.model_dir() / "config.json";
    if (fs::exists(cfg_path)) {
        auto mc = io::read_strict_ordered_json_file(cfg_path.string(),
                                                    io::StrictJsonLimits{32, 1'000'000});
        if (mc.ok() && mc->is_object())
            extra["model_config"] = std::move(*mc);
        else
            rep.warnings.push_back(
                cfg_path.string() + " is not usable (" +
                (mc.ok() ? std::string("not a JSON object") : mc.error().message) +
                "); the .qbin will not carry the model config");
    }

    rep.dry_run = opt.dry_run;
    if (awq) {
        rep.calib_windows = awq->calib.windows;
        rep.calib_seq_len = awq->calib.seq_len;
        rep.calib_text_tokens = awq->text_tokens;
        rep.calib_tokenizer = awq->tokenizer;
        rep.awq_loss = awq->loss == AwqLoss::per_linear ? "per_linear" : "module_output";
        rep.calib_imatrix = awq->imatrix;
    }
    // A part: its records (the others are marked written, so nothing below touches them) and
    // the header the part file gets.
    std::vector<bool> ours;
    parts::PartRun run;
    const fs::path dest = opt.part ? parts::part_path(opt.output, *opt.part) : opt.output;
    if (opt.part) {
        SUTRA_ASSIGN(const std::vector<size_t> split, parts::assign_parts(records, opt.part->n));
        ours.resize(records.size());
        for (size_t i = 0; i < records.size(); ++i)
            ours[i] = split[i] == opt.part->k;
        run.index = *opt.part;
        run.model = checkpoint_fingerprint(ck);
        run.records = records;
        run.extra = extra;
        run.ours = ours;
    }
    std::vector<NormGroup> part_groups;
    for (const auto& g : groups)
        if (!opt.part || ours[g.norm]) part_groups.push_back(g);

    rep.method = extra["method"].get<std::string>();
    rep.output = dest.string();
    rep.config = extra["config"];
    rep.input_file_bytes = ck.total_file_bytes();
    if (opt.part) {  // a part: the bytes of its tensors
        rep.input_file_bytes = 0;
        for (size_t i = 0; i < p.tensors.size(); ++i)
            if (ours[i]) rep.input_file_bytes += p.tensors[i].input_bytes;
    }
    for (size_t i = 0; i < p.tensors.size(); ++i) {
        if (opt.part && !ours[i]) continue;  // a part reports its own tensors
        const auto& tp = p.tensors[i];
        const auto& t = ck.tensors()[tp.index];
        TensorSummary s;
        s.name = t.name;
        s.role = std::string(plan::role_name(tp.role));
        s.dtype = std::string(dtype_name(t.dtype));
        s.shape = t.shape;
        s.quantized = tp.quantize;
        s.encoding = tp.quantize ? std::string(quant::quant_type_for_bits(tp.bits)->name) : "raw";
        s.bits = tp.bits;
        s.group_size = tp.quantize ? plan::group_size_text(tp.group_size) : "";
        s.group_width = tp.quantize ? tp.layout.group : 0;
        s.keep_reason = tp.keep_reason;
        s.input_bytes = tp.input_bytes;
        s.stored_bytes = tp.stored_bytes;
        rep.tensors.push_back(std::move(s));
    }
    rep.quantized = 0;
    for (const auto& t : rep.tensors)
        rep.quantized += t.quantized ? 1 : 0;
    rep.kept = rep.tensors.size() - rep.quantized;
    rep.output_file_bytes = format::QbinWriter::file_size_for(records, extra);
    if (opt.part) {
        rep.output_file_bytes = parts::part_header(run).size();
        for (size_t i = 0; i < records.size(); ++i)
            if (ours[i])
                for (const auto& t : format::stored_tensors(records[i]))
                    rep.output_file_bytes += t.nbytes;
    }
    rep.ratio = rep.output_file_bytes ? static_cast<double>(rep.input_file_bytes) /
                                            static_cast<double>(rep.output_file_bytes)
                                      : 0;

    SUTRA_ASSIGN(const StreamOptions stream, stream_options(opt, records));
    rep.threads = stream.threads;
    rep.block_bytes = stream.block_bytes;
    rep.isa = simd::active().name;
    if (data_free && opt.max_memory) {
        const uint64_t need = current_rss_bytes() + data_free_memory_estimate(ck, groups);
        if (need > opt.max_memory)
            return make_error(Errc::invalid_argument,
                              "--max-memory " + mib_text(opt.max_memory) +
                                  " is below what data-free salience needs here (about " +
                                  std::to_string((need >> 20) + 1) +
                                  " MiB: the f32 weights of a norm's q/k/v or gate/up); raise "
                                  "it, or use --method rtn, which streams row blocks");
    }
    if (awq && !family_awq && opt.max_memory) {
        const uint64_t need =
            current_rss_bytes() +
            (gptq ? gptq_memory_estimate(awq->config, awq->calib, opt, stream.threads)
                  : awq_memory_estimate(awq->config, awq->calib, stream.threads));
        if (need > opt.max_memory)
            return make_error(Errc::invalid_argument,
                              "--max-memory " + mib_text(opt.max_memory) + " is below what " +
                                  (gptq ? opt.method : std::string("AWQ")) + " needs here (about " +
                                  std::to_string((need >> 20) + 1) +
                                  (gptq ? " MiB: one block's weights, the Hessians of its "
                                          "widest input and the calibration activations"
                                        : " MiB: one block's weights per search thread plus the "
                                          "calibration activations") +
                                  "); raise it, lower --threads or --calib-tokens, or use "
                                  "--method rtn");
    }
    if (gptq && family_awq && opt.max_memory) {
        const uint64_t need =
            current_rss_bytes() + gptq_family_memory_estimate(
                                      *family, static_cast<uint64_t>(awq->calib.windows),
                                      static_cast<uint64_t>(awq->calib.seq_len), opt.gptq.act_order,
                                      opt.method == "awq+gptq", opt.gptq_fp_inputs);
        if (need > opt.max_memory)
            return make_error(Errc::invalid_argument,
                              "--max-memory " + mib_text(opt.max_memory) + " is below what " +
                                  opt.method + " needs here (about " +
                                  std::to_string((need >> 20) + 1) +
                                  " MiB: one block's weights, the Hessians of its widest stage "
                                  "and the calibration activations); raise it, lower "
                                  "--calib-tokens, or use --method rtn");
    }

    const auto inputs = ck.input_paths();
    if (opt.dry_run) {
        SUTRA_TRY(io::check_output_path(dest, opt.force, inputs));
    } else {
        SUTRA_ASSIGN(io::OutputFile out, io::OutputFile::create(dest, opt.force, inputs));
        auto begun = opt.part ? format::QbinWriter::begin_part(
                                    std::move(out), records, ours,
                                    [run](const std::vector<format::QbinRecord>& rs) {
                                        parts::PartRun r = run;
                                        r.records = rs;
                                        return parts::part_header(r);
                                    })
                              : format::QbinWriter::begin(std::move(out), records, extra);
        SUTRA_ASSIGN(format::QbinWriter w, std::move(begun));
        uint64_t planned = 0;
        std::vector<bool> written(p.tensors.size(), false);
        for (size_t i = 0; i < p.tensors.size(); ++i) {
            written[i] = opt.part && !ours[i];
            if (!written[i]) planned += ck.tensors()[p.tensors[i].index].nbytes;
        }
        if (progress) progress->on_stage("quantize", planned);
        uint64_t done = 0;
        if (gptq && family_awq) {
            FamilyGptqOptions go;
            go.block.gptq = opt.gptq;
            go.block.sequential = !opt.gptq_fp_inputs;
            go.block.measure_error = opt.gptq_report_error;
            go.block.threads = stream.threads;
            if (opt.method == "awq+gptq") {
                go.awq = awq_options_for(opt);
                go.awq->threads = stream.threads;
                go.awq->loss = awq->loss;
            }
            SUTRA_ASSIGN(rep.gptq,
                         quantize_layers_gptq_family(*family, awq->family_windows, records, w, go,
                                                     opt.chunk_bytes, written, progress));
        } else if (gptq) {
            GptqStreamOptions go;
            go.block.gptq = opt.gptq;
            go.block.sequential = !opt.gptq_fp_inputs;
            go.block.measure_error = opt.gptq_report_error;
            go.gptq_in_search = opt.awq_trials_gptq.value_or(true);
            go.block.threads = stream.threads;
            if (opt.method == "awq+gptq") {
                go.awq = awq_options_for(opt);
                go.awq->threads = stream.threads;
                go.awq->loss = awq->loss;
            }
            SUTRA_ASSIGN(rep.gptq,
                         quantize_layers_gptq(ck, awq->config, records, w, awq->calib, go, written,
                                              progress, opt.part ? &ours : nullptr));
        } else if (family_awq) {
            AwqOptions awq_options = opt.awq;
            awq_options.threads = stream.threads;
            awq_options.loss = awq->loss;
            SUTRA_ASSIGN(rep.awq,
                         quantize_layers_awq_family(*family, awq->family_windows, records, w,
                                                    awq_options, opt.chunk_bytes, written, progress,
                                                    opt.part ? &ours : nullptr));
        } else if (awq) {
            AwqOptions awq_options = opt.awq;
            awq_options.threads = stream.threads;
            awq_options.loss = awq->loss;
            SUTRA_ASSIGN(rep.awq, quantize_layers_awq(ck, awq->config, records, w, awq->calib,
                                                      awq_options, opt.chunk_bytes, written,
                                                      progress, opt.part ? &ours : nullptr));
        }
        if (data_free) {
            SUTRA_ASSIGN(rep.salience, quantize_groups_data_free(
                                           ck, part_groups, records, w, *cfg.salience_threshold,
                                           opt.awq.grid, opt.chunk_bytes, stream.threads, written));
        }
        for (size_t i = 0; i < p.tensors.size(); ++i)
            if (written[i] && (!opt.part || ours[i]))
                done += ck.tensors()[p.tensors[i].index].nbytes;
        if (auto st =
                stream_records(ck, p, records, written, w, stream, &rep.stages, progress, done);
            !st.ok()) {
            // An input changed under us explains any error its new bytes caused: say so.
            SUTRA_TRY(ck.check_unchanged());
            return st.error();
        }
        if (progress) progress->on_stage_end();
        SUTRA_TRY(ck.check_unchanged());
        SUTRA_TRY(w.finish());
        rep.output_file_bytes = w.file_size();
    }
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rep.peak_rss_bytes = peak_rss_bytes();
    return rep;
}

}  // namespace sutra::pipeline
