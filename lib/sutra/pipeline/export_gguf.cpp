// `sutra export --format gguf`: a .qbin -> one GGUF version 3 file (format/GGUF.md).
//
// Everything is checked before the output is created: the .qbin's data checksums, config.json
// (model/llama_config.hpp) and the tokenizer (format/gguf_vocab.hpp) of the source folder,
// every tensor's llama.cpp name, shape against the config, and type. Then the header is
// written and each tensor streamed in llama.cpp's order: rows read as f32 from a GgufSource
// (for a .qbin, format::QbinFile::read_rows_f32: its weights as stored, dequantized), q/k rows
// permuted for the llama architecture, each row encoded with quant::ggml_quantize_row on the worker
// threads (every row writes only its own bytes, so the file is the same for every thread count).
#include "sutra/pipeline/export_gguf.hpp"

#include <chrono>
#include <cmath>
#include <map>
#include <numbers>

#include "sutra/base/memory.hpp"
#include "sutra/base/thread_pool.hpp"
#include "sutra/format/gguf_mix.hpp"
#include "sutra/format/gguf_names.hpp"
#include "sutra/format/gguf_vocab.hpp"
#include "sutra/format/gguf_writer.hpp"
#include "sutra/format/qbin_reader.hpp"
#include "sutra/io/output_file.hpp"
#include "sutra/model/llama/llama_config.hpp"
#include "sutra/tokenize/discovery.hpp"

namespace sutra::pipeline {
namespace {

namespace fs = std::filesystem;
using format::GgufValue;
using quant::GgmlType;

constexpr uint64_t kChunkBytes = 4u << 20;  // f32 values read per step

struct Item {
    const GgufSourceTensor* record = nullptr;  // null: a generated tensor (rope_freqs)
    size_t index = 0;                          // in the source's tensors
    int order = 0;                             // GGUF order: token_embd, blocks, the rest
    format::GgufTensorSpec spec;
    format::QkPermute permute = format::QkPermute::none;
    uint64_t rows = 1, cols = 0;
    uint64_t n_head = 0;  // permute: heads of the q or k projection
    std::string note;
    std::vector<float> generated;
};

// llama.cpp's rope_freqs for rope_type "llama3" (convert_hf_to_gguf.py LlamaModel
// generate_extra_tensors): one factor per rotary frequency pair.
std::vector<float> llama3_rope_factors(const model::LlamaConfig& c) {
    std::vector<float> out;
    const int64_t dim = c.head_dim;
    const double low_wavelen =
        static_cast<double>(c.rope_original_max_position) / c.rope_low_freq_factor;
    const double high_wavelen =
        static_cast<double>(c.rope_original_max_position) / c.rope_high_freq_factor;
    for (int64_t i = 0; i < dim; i += 2) {
        // As the converter: freqs computed in float32 by torch, the rest in Python doubles.
        const float freq = 1.0f / std::pow(static_cast<float>(c.rope_theta),
                                           static_cast<float>(i) / static_cast<float>(dim));
        const double wavelen = 2 * std::numbers::pi / static_cast<double>(freq);
        double f = 1;
        if (wavelen < high_wavelen) {
            f = 1;
        } else if (wavelen > low_wavelen) {
            f = c.rope_factor;
        } else {
            const double smooth = (static_cast<double>(c.rope_original_max_position) / wavelen -
                                   c.rope_low_freq_factor) /
                                  (c.rope_high_freq_factor - c.rope_low_freq_factor);
            f = 1 / ((1 - smooth) / c.rope_factor + smooth);
        }
        out.push_back(static_cast<float>(f));
    }
    return out;
}

std::string general_name(const fs::path& src) {
    fs::path p = src;
    if (p.filename().empty()) p = p.parent_path();
    std::string n = p.filename().string();
    if (n.empty() || n == "." || n == "..") n = "model";
    return n;
}

Status expect_shape(const GgufSourceTensor& r, std::vector<uint64_t> want) {
    if (r.shape == want) return {};
    auto str = [](const std::vector<uint64_t>& s) {
        std::string o = "[";
        for (size_t i = 0; i < s.size(); ++i)
            o += (i ? ", " : "") + std::to_string(s[i]);
        return o + "]";
    };
    return make_error(Errc::bad_format,
                      "tensor '" + r.name + "' has shape " + str(r.shape) +
                          " but config.json implies " + str(want) +
                          "; --model-dir must be the folder this .qbin was made from");
}

// The shape config.json gives a Hugging Face tensor (nullopt: not checked).
std::optional<std::vector<uint64_t>> config_shape(const model::LlamaConfig& c,
                                                  const std::string& hf) {
    const auto h = static_cast<uint64_t>(c.hidden_size);
    const auto q = static_cast<uint64_t>(c.q_width());
    const auto kv = static_cast<uint64_t>(c.kv_width());
    const auto ff = static_cast<uint64_t>(c.intermediate_size);
    const auto v = static_cast<uint64_t>(c.vocab_size);
    const auto hd = static_cast<uint64_t>(c.head_dim);
    auto ends = [&](std::string_view s) { return hf.ends_with(s); };
    if (hf == "model.embed_tokens.weight" || hf == "lm_head.weight")
        return std::vector<uint64_t>{v, h};
    if (hf == "model.norm.weight" || ends(".input_layernorm.weight") ||
        ends(".post_attention_layernorm.weight"))
        return std::vector<uint64_t>{h};
    if (ends(".q_proj.weight")) return std::vector<uint64_t>{q, h};
    if (ends(".k_proj.weight") || ends(".v_proj.weight")) return std::vector<uint64_t>{kv, h};
    if (ends(".o_proj.weight")) return std::vector<uint64_t>{h, q};
    if (ends(".q_proj.bias")) return std::vector<uint64_t>{q};
    if (ends(".k_proj.bias") || ends(".v_proj.bias")) return std::vector<uint64_t>{kv};
    if (ends(".o_proj.bias")) return std::vector<uint64_t>{h};
    if (ends(".q_norm.weight") || ends(".k_norm.weight")) return std::vector<uint64_t>{hd};
    if (ends(".gate_proj.weight") || ends(".up_proj.weight")) return std::vector<uint64_t>{ff, h};
    if (ends(".down_proj.weight")) return std::vector<uint64_t>{h, ff};
    return std::nullopt;
}

format::GgufMetadata architecture_metadata(const model::LlamaConfig& c, const std::string& arch,
                                           const std::string& name, uint32_t file_type) {
    format::GgufMetadata md;
    auto u32 = [&](const std::string& k, int64_t v) {
        md.emplace_back(arch + "." + k, GgufValue::make_u32(static_cast<uint32_t>(v)));
    };
    auto f32 = [&](const std::string& k, double v) {
        md.emplace_back(arch + "." + k, GgufValue::make_f32(static_cast<float>(v)));
    };
    md.emplace_back("general.architecture", GgufValue::make_string(arch));
    md.emplace_back("general.type", GgufValue::make_string("model"));
    md.emplace_back("general.name", GgufValue::make_string(name));
    md.emplace_back("general.file_type", GgufValue::make_u32(file_type));
    md.emplace_back("general.quantization_version", GgufValue::make_u32(2));
    md.emplace_back("general.tool", GgufValue::make_string("sutra " SUTRA_VERSION));
    // llama.cpp needs a training context; config.json without max_position_embeddings: the
    // llama3 original context, else 2048 (Llama 1's).
    int64_t ctx = c.max_position_embeddings;
    if (ctx <= 0)
        ctx = c.rope_scaling == model::RopeScaling::llama3 ? c.rope_original_max_position : 2048;
    u32("vocab_size", c.vocab_size);
    u32("context_length", ctx);
    u32("embedding_length", c.hidden_size);
    u32("block_count", c.num_hidden_layers);
    u32("feed_forward_length", c.intermediate_size);
    u32("attention.head_count", c.num_attention_heads);
    u32("attention.head_count_kv", c.num_key_value_heads);
    u32("attention.key_length", c.head_dim);
    u32("attention.value_length", c.head_dim);
    f32("attention.layer_norm_rms_epsilon", c.rms_norm_eps);
    f32("rope.freq_base", c.rope_theta);
    u32("rope.dimension_count", c.head_dim);
    if (c.rope_scaling == model::RopeScaling::linear) {
        md.emplace_back(arch + ".rope.scaling.type", GgufValue::make_string("linear"));
        f32("rope.scaling.factor", c.rope_factor);
    }
    return md;
}

// importance: null, or one weight per column (the same for every row).
Status encode_rows(GgmlType type, const float* x, uint64_t nrows, uint64_t cols,
                   const float* importance, uint8_t* out, unsigned threads,
                   const std::string& tensor) {
    const uint64_t rb = quant::ggml_row_bytes(type, cols);
    std::vector<Status> st(static_cast<size_t>(nrows));
    parallel_for(static_cast<size_t>(nrows), threads, [&](size_t r) {
        st[r] = quant::ggml_quantize_row(type, x + r * cols, cols, importance, out + r * rb);
    });
    for (size_t r = 0; r < st.size(); ++r)
        if (!st[r].ok())
            return make_error(
                st[r].error().code,
                "tensor '" + tensor + "' row " + std::to_string(r) + ": " + st[r].error().message);
    return {};
}

// A .qbin's weights as stored (dequantized); no importance.
class QbinGgufSource final : public GgufSource {
  public:
    explicit QbinGgufSource(const format::QbinFile& q) : q_(&q) {
        for (const auto& r : q.records())
            tensors_.push_back({r.name, r.shape, r.dtype, r.quantized ? r.bits : 0});
    }
    const std::vector<GgufSourceTensor>& tensors() const override { return tensors_; }
    Status read_rows(size_t i, uint64_t row0, uint64_t n, float* out) override {
        return q_->read_rows_f32(q_->records()[i], row0, n, out);
    }
    const std::vector<float>* importance(size_t) override { return nullptr; }
    Status check_unchanged() const override { return q_->container().check_unchanged(); }

  private:
    const format::QbinFile* q_;
    std::vector<GgufSourceTensor> tensors_;
};

// Where a tensor goes in the file: token_embd, the blocks in layer order, then the rest
// (rope_freqs, output_norm, output), as llama.cpp's converter orders them; AWQ sources
// transform the blocks in this order.
int gguf_order(const format::GgufName& gn) {
    if (gn.name == "token_embd.weight") return -1;
    return gn.block >= 0 ? gn.block : std::numeric_limits<int>::max();
}

}  // namespace

Result<ExportReport> export_gguf(const ExportOptions& opt, ProgressObserver* progress) {
    SUTRA_ASSIGN(format::QbinFile q, format::QbinFile::open(opt.input));
    SUTRA_ASSIGN(fs::path src, export_source_folder(opt));
    SUTRA_ASSIGN(auto damage, q.verify_data());
    if (!damage.empty())
        return make_error(Errc::corrupt,
                          opt.input.string() + ": tensor '" + damage.front().record +
                              "' is damaged (checksum of '" + damage.front().stored +
                              "' does not match); run `sutra validate` for the full list");
    QbinGgufSource source(q);
    return write_gguf(source, src, opt, {opt.input}, progress);
}

Result<ExportReport> write_gguf(GgufSource& source, const fs::path& src, const ExportOptions& opt,
                                const std::vector<fs::path>& inputs, ProgressObserver* progress) {
    const auto t0 = std::chrono::steady_clock::now();
    SUTRA_ASSIGN(format::GgufTypeRequest req, format::parse_gguf_type_request(opt.gguf_type));
    SUTRA_ASSIGN(model::LlamaConfig cfg, model::read_llama_config(src / "config.json"));
    SUTRA_ASSIGN(std::string arch, format::gguf_architecture(cfg.model_type));
    SUTRA_TRY(io::check_output_path(opt.output, opt.force, inputs));

    // Tokenizer.
    tokenize::TokenizerFile tf;
    if (opt.tokenizer) {
        SUTRA_ASSIGN(tf, tokenize::resolve_tokenizer_path(*opt.tokenizer));
    } else {
        SUTRA_ASSIGN(tf, tokenize::find_tokenizer_file(src));
    }
    format::VocabContext vctx;
    vctx.vocab_size = cfg.vocab_size;
    vctx.config_bos = cfg.bos_token_id;
    vctx.config_eos = cfg.eos_token_ids;
    SUTRA_ASSIGN(format::GgufVocab vocab, format::read_gguf_vocab(tf, vctx));

    ExportReport rep;
    rep.output = opt.output.string();
    rep.format = "gguf";
    if (cfg.sliding_window > 0 && cfg.max_position_embeddings > cfg.sliding_window)
        rep.warnings.push_back("config.json: sliding_window " + std::to_string(cfg.sliding_window) +
                               " is not written (llama.cpp's llama architecture attends to the "
                               "whole context): outputs match for contexts up to " +
                               std::to_string(cfg.sliding_window) + " tokens");

    // Plan the tensors.
    const bool permute = format::gguf_arch_permutes_qk(arch);
    bool has_head = false;
    for (const auto& r : source.tensors())
        if (r.name == "lm_head.weight" && !cfg.tie_word_embeddings) has_head = true;
    std::vector<Item> items;
    if (cfg.rope_scaling == model::RopeScaling::llama3) {
        Item it;
        it.generated = llama3_rope_factors(cfg);
        it.cols = it.generated.size();
        it.spec = {"rope_freqs.weight", {it.cols}, GgmlType::F32};
        items.push_back(std::move(it));
    }
    std::map<GgmlType, uint64_t> weight_count;
    for (size_t index = 0; index < source.tensors().size(); ++index) {
        const GgufSourceTensor& r = source.tensors()[index];
        if (r.name == "lm_head.weight" && cfg.tie_word_embeddings) {
            rep.warnings.push_back(
                "lm_head.weight is not written: config.json ties the head to "
                "the embedding, which llama.cpp then uses (as sutra does)");
            continue;
        }
        auto gn = format::gguf_tensor_name(r.name);
        if (!gn) {
            if (r.name.ends_with(".rotary_emb.inv_freq")) continue;  // as the converter
            return make_error(Errc::unsupported,
                              "tensor '" + r.name + "' has no llama.cpp name (the " + arch +
                                  " architecture holds embeddings, attention, MLP and norms)");
        }
        if (auto want = config_shape(cfg, r.name)) SUTRA_TRY(expect_shape(r, *want));
        if (r.shape.empty() || r.shape.size() > 2)
            return make_error(Errc::unsupported, "tensor '" + r.name + "': rank " +
                                                     std::to_string(r.shape.size()) +
                                                     " is not written to GGUF");
        if (r.dtype != DType::F32 && r.dtype != DType::F16 && r.dtype != DType::BF16)
            return make_error(Errc::unsupported,
                              "tensor '" + r.name + "': dtype " + std::string(dtype_name(r.dtype)) +
                                  " is not written to GGUF (F32, F16, BF16 are)");
        Item it;
        it.record = &r;
        it.index = index;
        it.order = gguf_order(*gn);
        const bool two_d = r.shape.size() == 2;
        it.rows = two_d ? r.shape[0] : 1;
        it.cols = two_d ? r.shape[1] : r.shape[0];
        if (permute && gn->permute != format::QkPermute::none) {
            it.permute = gn->permute;
            it.n_head = static_cast<uint64_t>(gn->permute == format::QkPermute::q
                                                  ? cfg.num_attention_heads
                                                  : cfg.num_key_value_heads);
            const uint64_t n = two_d ? it.rows : it.cols;
            if (it.n_head == 0 || n % (2 * it.n_head) != 0)
                return make_error(Errc::bad_format, "tensor '" + r.name +
                                                        "': " + std::to_string(n) +
                                                        " rows are not an even number per head (" +
                                                        std::to_string(it.n_head) + " heads)");
        }
        format::GgufTensorFacts facts;
        facts.name = gn->name;
        facts.block = gn->block;
        facts.cols = it.cols;
        facts.two_d = two_d;
        facts.is_head =
            gn->name == "output.weight" || (gn->name == "token_embd.weight" && !has_head);
        facts.qbin_bits = r.qbin_bits;
        facts.raw_f16 = r.dtype == DType::F16;
        const auto choice =
            format::choose_gguf_type(req, facts, static_cast<int>(cfg.num_hidden_layers));
        it.note = choice.note;
        if (!choice.note.empty()) rep.warnings.push_back(gn->name + ": " + choice.note);
        std::vector<uint64_t> dims =
            two_d ? std::vector<uint64_t>{it.cols, it.rows} : std::vector<uint64_t>{it.cols};
        it.spec = {gn->name, std::move(dims), choice.type};
        if (two_d) ++weight_count[choice.type];
        items.push_back(std::move(it));
    }
    GgmlType most_common = GgmlType::F32;
    uint64_t best = 0;
    for (const auto& [t, n] : weight_count)
        if (n > best) {
            best = n;
            most_common = t;
        }

    // Metadata.
    format::GgufMetadata md = architecture_metadata(cfg, arch, general_name(src),
                                                    format::gguf_file_type(req, most_common));
    format::append_vocab_metadata(vocab, md);

    // GGUF order (stable: within a block, the source's order), and the types to the source.
    std::stable_sort(items.begin(), items.end(),
                     [](const Item& a, const Item& b) { return a.order < b.order; });
    std::vector<GgmlType> types(source.tensors().size(), GgmlType::F32);
    for (const auto& it : items)
        if (it.record) types[it.index] = it.spec.type;
    SUTRA_TRY(source.plan(types));

    std::vector<format::GgufTensorSpec> specs;
    for (const auto& it : items)
        specs.push_back(it.spec);
    SUTRA_ASSIGN(io::OutputFile out, io::OutputFile::create(opt.output, opt.force, inputs));
    SUTRA_ASSIGN(format::GgufWriter w, format::GgufWriter::begin(std::move(out), md, specs));
    uint64_t total = 0;
    for (uint64_t n : w.layout().nbytes)
        total += n;
    if (progress) progress->on_stage("export", total);
    const unsigned threads = opt.threads > 0 ? opt.threads : default_threads();

    std::vector<float> src_rows, rows;
    std::vector<uint8_t> bytes;
    uint64_t done = 0;
    for (size_t k = 0; k < items.size(); ++k) {
        const Item& it = items[k];
        const GgmlType type = it.spec.type;
        if (!it.record) {
            bytes.resize(static_cast<size_t>(quant::ggml_row_bytes(type, it.cols)));
            SUTRA_TRY(encode_rows(type, it.generated.data(), 1, it.cols, nullptr, bytes.data(), 1,
                                  it.spec.name));
            SUTRA_TRY(w.append(k, bytes));
            done += bytes.size();
            continue;
        }
        const bool two_d = it.record->shape.size() == 2;
        // Rows per step: whole heads when permuting (a head's rows move only inside it).
        const uint64_t unit =
            (it.permute != format::QkPermute::none && two_d) ? it.rows / it.n_head : 1;
        uint64_t step = std::max<uint64_t>(1, kChunkBytes / 4 / std::max<uint64_t>(it.cols, 1));
        step = std::max(unit, step / unit * unit);
        for (uint64_t r0 = 0; r0 < it.rows; r0 += step) {
            const uint64_t n = std::min(step, it.rows - r0);
            src_rows.resize(static_cast<size_t>(n * it.cols));
            SUTRA_TRY(source.read_rows(it.index, r0, n, src_rows.data()));
            const float* x = src_rows.data();
            if (it.permute != format::QkPermute::none) {
                rows.resize(src_rows.size());
                if (two_d) {
                    // Rows r0..r0+n are whole heads; permute within the tensor's row space.
                    for (uint64_t o = 0; o < n; ++o) {
                        const uint64_t s =
                            format::permuted_source_row(r0 + o, it.rows, it.n_head) - r0;
                        std::copy_n(src_rows.data() + s * it.cols, it.cols,
                                    rows.data() + o * it.cols);
                    }
                } else {
                    for (uint64_t o = 0; o < it.cols; ++o)
                        rows[o] = src_rows[format::permuted_source_row(o, it.cols, it.n_head)];
                }
                x = rows.data();
            }
            bytes.resize(static_cast<size_t>(n * quant::ggml_row_bytes(type, it.cols)));
            const std::vector<float>* imp = two_d ? source.importance(it.index) : nullptr;
            SUTRA_TRY(encode_rows(type, x, n, it.cols, imp ? imp->data() : nullptr, bytes.data(),
                                  threads, it.spec.name));
            SUTRA_TRY(w.append(k, bytes));
            done += bytes.size();
        }
        if (progress) progress->on_progress(it.spec.name, done);
    }
    if (progress) progress->on_stage_end();
    SUTRA_TRY(source.check_unchanged());
    SUTRA_TRY(w.finish());

    for (const auto& it : items) {
        ExportTensor t;
        t.name = it.spec.name;
        t.type = quant::ggml_type_info(it.spec.type).name;
        t.shape = it.spec.dims;
        t.note = it.note;
        if (it.permute != format::QkPermute::none)
            t.note =
                t.note.empty() ? "rows permuted for llama.cpp's rope" : t.note + "; rows permuted";
        rep.tensors.push_back(std::move(t));
    }
    rep.output_bytes = w.file_size();
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rep.peak_rss_bytes = peak_rss_bytes();
    return rep;
}

}  // namespace sutra::pipeline
