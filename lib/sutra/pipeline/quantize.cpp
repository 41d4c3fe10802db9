#include "sutra/pipeline/quantize.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "sutra/base/memory.hpp"
#include "sutra/format/qbin_writer.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/io/output_file.hpp"
#include "sutra/io/strict_json.hpp"
#include "sutra/quant/quant_type.hpp"
#include "sutra/quant/rtn.hpp"

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

Result<std::vector<format::QbinRecord>> make_records(const io::Checkpoint& ck,
                                                     const plan::Plan& p) {
    std::vector<format::QbinRecord> recs;
    std::unordered_set<std::string> names;
    for (const auto& tp : p.tensors) {
        const auto& t = ck.tensors()[tp.index];
        format::QbinRecord r;
        r.name = t.name;
        r.dtype = t.dtype;
        r.shape = t.shape;
        r.role = std::string(plan::role_name(tp.role));
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

Status quantize_tensor(const io::Checkpoint& ck, const io::TensorRef& t,
                       const format::QbinRecord& r, size_t ri, format::QbinWriter& w,
                       uint64_t chunk_bytes, ProgressObserver* progress, uint64_t& done) {
    const auto& l = r.layout;
    const uint64_t rows_per_block = std::max<uint64_t>(1, chunk_bytes / (l.cols * 4));
    std::vector<float> x;
    std::vector<uint8_t> codes(l.cols), zeros(l.n_groups), qw, zw;
    std::vector<uint16_t> sc;
    for (uint64_t row0 = 0; row0 < l.rows; row0 += rows_per_block) {
        const uint64_t n = std::min(rows_per_block, l.rows - row0);
        x.resize(n * l.cols);
        qw.assign(n * l.row_code_bytes, 0);
        zw.assign(n * l.row_zero_bytes, 0);
        sc.resize(n * l.n_groups);
        SUTRA_TRY(ck.read_f32(t, row0 * l.cols, x));
        for (uint64_t i = 0; i < n; ++i) {
            size_t bad = 0;
            const auto st = quant::quantize_row_rtn(x.data() + i * l.cols, l, codes.data(),
                                                    sc.data() + i * l.n_groups, zeros.data(), &bad);
            if (st == quant::RowStatus::not_finite)
                return make_error(Errc::bad_format,
                                  "tensor '" + t.name + "': element [" + std::to_string(row0 + i) +
                                      ", " + std::to_string(bad) +
                                      "] is NaN or infinite; fix the checkpoint or keep this "
                                      "tensor with a rule");
            if (st == quant::RowStatus::scale_overflow)
                return make_error(Errc::unsupported,
                                  "tensor '" + t.name + "': row " + std::to_string(row0 + i) +
                                      " has values too large for an F16 group scale; keep "
                                      "this tensor with a rule");
            quant::pack_codes(codes.data(), l.cols, l.bits, qw.data() + i * l.row_code_bytes);
            quant::pack_codes(zeros.data(), l.n_groups, l.bits, zw.data() + i * l.row_zero_bytes);
        }
        SUTRA_TRY(w.append(ri, 0, qw));
        SUTRA_TRY(w.append(
            ri, 1,
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(sc.data()), sc.size() * 2)));
        SUTRA_TRY(w.append(ri, 2, zw));
        done += n * l.cols * dtype_size(t.dtype);
        if (progress) progress->on_progress(t.name, done);
    }
    return {};
}

Status copy_tensor(const io::Checkpoint& ck, const io::TensorRef& t, size_t ri,
                   format::QbinWriter& w, uint64_t chunk_bytes, ProgressObserver* progress,
                   uint64_t& done) {
    std::vector<uint8_t> buf(
        static_cast<size_t>(std::min<uint64_t>(chunk_bytes, std::max<uint64_t>(t.nbytes, 1))));
    for (uint64_t off = 0; off < t.nbytes; off += buf.size()) {
        const size_t len = static_cast<size_t>(std::min<uint64_t>(buf.size(), t.nbytes - off));
        SUTRA_TRY(ck.read_raw(t, off, std::span<uint8_t>(buf.data(), len)));
        SUTRA_TRY(w.append(ri, 0, std::span<const uint8_t>(buf.data(), len)));
        done += len;
        if (progress) progress->on_progress(t.name, done);
    }
    return {};
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
    SUTRA_ASSIGN(plan::QuantConfig cfg, resolve_config(opt));
    SUTRA_ASSIGN(io::Checkpoint ck, io::Checkpoint::open(opt.input));
    SUTRA_ASSIGN(plan::Plan p, plan::make_plan(ck, cfg, opt.overrides));
    SUTRA_ASSIGN(std::vector<format::QbinRecord> records, make_records(ck, p));

    ojson extra;
    extra["tool"] = std::string("sutra ") + SUTRA_VERSION;
    extra["config"] = config_record(opt, cfg);
    extra["source"] = source_record(ck);
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
    rep.output = opt.output.string();
    rep.config = extra["config"];
    rep.input_file_bytes = ck.total_file_bytes();
    for (size_t i = 0; i < p.tensors.size(); ++i) {
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
    rep.quantized = p.quantized_count();
    rep.kept = p.tensors.size() - rep.quantized;
    rep.output_file_bytes = format::QbinWriter::file_size_for(records, extra);
    rep.ratio = rep.output_file_bytes ? static_cast<double>(rep.input_file_bytes) /
                                            static_cast<double>(rep.output_file_bytes)
                                      : 0;

    const auto inputs = ck.input_paths();
    if (opt.dry_run) {
        SUTRA_TRY(io::check_output_path(opt.output, opt.force, inputs));
    } else {
        SUTRA_ASSIGN(io::OutputFile out, io::OutputFile::create(opt.output, opt.force, inputs));
        SUTRA_ASSIGN(format::QbinWriter w,
                     format::QbinWriter::begin(std::move(out), records, extra));
        if (progress) progress->on_stage("quantize", p.input_data_bytes);
        uint64_t done = 0;
        for (size_t i = 0; i < p.tensors.size(); ++i) {
            const auto& t = ck.tensors()[p.tensors[i].index];
            if (p.tensors[i].quantize)
                SUTRA_TRY(
                    quantize_tensor(ck, t, records[i], i, w, opt.chunk_bytes, progress, done));
            else
                SUTRA_TRY(copy_tensor(ck, t, i, w, opt.chunk_bytes, progress, done));
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
