#include "sutra/pipeline/export_autoawq.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "sutra/base/half.hpp"
#include "sutra/base/memory.hpp"
#include "sutra/format/autoawq_layout.hpp"
#include "sutra/format/qbin_reader.hpp"
#include "sutra/io/file.hpp"
#include "sutra/io/output_file.hpp"
#include "sutra/io/safetensors_writer.hpp"
#include "sutra/io/strict_json.hpp"
#include "sutra/quant/layout.hpp"
#include "sutra/quant/rtn.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::pipeline {
namespace {

namespace fs = std::filesystem;
namespace awq = format::autoawq;
using ojson = nlohmann::ordered_json;

static_assert(std::endian::native == std::endian::little,
              "the int32 words and F16 values are written in memory order");

// Files copied from the source folder when present (config.json is rewritten, not copied).
const std::vector<std::string>& tokenizer_files() {
    static const std::vector<std::string> names = {"tokenizer.json",    "tokenizer_config.json",
                                                   "tokenizer.model",   "special_tokens_map.json",
                                                   "added_tokens.json", "vocab.json",
                                                   "merges.txt",        "tok512.bin",
                                                   "tokenizer.bin"};
    return names;
}

enum class Kind { qweight, qzeros, scales, to_f16, copy };

struct Piece {
    io::OutTensor t;
    Kind kind = Kind::copy;
    size_t record = 0;
    std::string note;
};

struct ExportPlan {
    std::vector<Piece> pieces;
    uint32_t group_size = 0;
    std::vector<std::string> not_convert;
    std::vector<std::string> warnings;
    size_t quantized_linears = 0;
};

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A linear layer of a block: what AutoAWQ would convert (the embedding and lm_head it keeps).
bool is_linear(const format::QbinRecord& r) {
    return r.shape.size() == 2 && ends_with(r.name, ".weight") && r.role != "embedding" &&
           r.role != "output";
}

std::string module_of(const std::string& weight_name) {
    return weight_name.substr(0, weight_name.size() - std::string_view(".weight").size());
}

uint64_t numel(const std::vector<uint64_t>& shape) {
    uint64_t n = 1;
    for (auto d : shape)
        n *= d;
    return n;
}

Result<ExportPlan> make_plan(const format::QbinFile& q, const ExportOptions& opt) {
    const auto& recs = q.records();
    // Why each quantized linear does not fit the layout, before the common group size.
    std::vector<std::string> reason(recs.size());
    std::map<uint32_t, size_t> group_count;
    std::vector<uint32_t> group_order;
    for (size_t i = 0; i < recs.size(); ++i) {
        const auto& r = recs[i];
        if (!r.quantized || !is_linear(r)) continue;
        reason[i] =
            awq::unsupported_reason(r.shape[0], r.shape[1], r.bits, r.group_size, r.layout.group);
        if (reason[i].empty()) {
            if (group_count[r.group_size]++ == 0) group_order.push_back(r.group_size);
        }
    }
    ExportPlan p;
    size_t best = 0;
    for (auto g : group_order)  // the most common group size; the first one on a tie
        if (group_count[g] > best) best = group_count[g], p.group_size = g;
    for (size_t i = 0; i < recs.size(); ++i) {
        const auto& r = recs[i];
        if (r.quantized && is_linear(r) && reason[i].empty() && r.group_size != p.group_size)
            reason[i] = "its group size " + std::to_string(r.group_size) +
                        " differs from the model's " + std::to_string(p.group_size) +
                        " (quantization_config holds one group size)";
    }

    size_t n_bad = 0;
    for (const auto& why : reason)
        n_bad += !why.empty();
    for (size_t i = 0; i < recs.size(); ++i) {
        const auto& r = recs[i];
        auto add = [&](std::string name, DType d, std::vector<uint64_t> shape, Kind k,
                       std::string note) {
            const uint64_t n = dtype_nbytes(d, shape).value_or(0);
            p.pieces.push_back({{std::move(name), d, std::move(shape), n}, k, i, std::move(note)});
        };
        if (r.quantized && is_linear(r)) {
            if (reason[i].empty()) {
                const std::string m = module_of(r.name);
                const uint64_t out = r.shape[0], in = r.shape[1], ng = in / r.group_size;
                add(m + ".qweight", DType::I32, {in, out / awq::kPack}, Kind::qweight, "");
                add(m + ".qzeros", DType::I32, {ng, out / awq::kPack}, Kind::qzeros, "");
                add(m + ".scales", DType::F16, {ng, out}, Kind::scales, "");
                ++p.quantized_linears;
                continue;
            }
            if (!opt.keep_unsupported) {
                const std::string more = n_bad > 1 ? " (" + std::to_string(n_bad - 1) +
                                                         " more linear" + (n_bad > 2 ? "s" : "") +
                                                         " cannot be held either)"
                                                   : "";
                return make_error(Errc::unsupported,
                                  r.name +
                                      ": the AutoAWQ GEMM layout cannot hold it: " + reason[i] +
                                      "; re-quantize it so that it fits, or pass "
                                      "--keep-unsupported to write it in F16 (listed in "
                                      "modules_to_not_convert)" +
                                      more);
            }
            p.not_convert.push_back(module_of(r.name));
            p.warnings.push_back(r.name +
                                 ": written in F16, dequantized, and listed in "
                                 "modules_to_not_convert: " +
                                 reason[i]);
            add(r.name, DType::F16, r.shape, Kind::to_f16, "kept F16 (dequantized): " + reason[i]);
        } else if (r.quantized) {
            p.warnings.push_back(r.name +
                                 ": dequantized to F16 (AutoAWQ quantizes only the linear "
                                 "layers of the blocks, not the embedding or the output head)");
            add(r.name, DType::F16, r.shape, Kind::to_f16, "dequantized to F16");
        } else if (dtype_is_float_quantizable(r.dtype)) {
            std::string note;
            if (is_linear(r)) {
                p.not_convert.push_back(module_of(r.name));
                note = "not quantized in the .qbin; listed in modules_to_not_convert";
            }
            add(r.name, DType::F16, r.shape, Kind::to_f16, note);
        } else {
            add(r.name, r.dtype, r.shape, Kind::copy, "");
        }
    }
    if (p.quantized_linears == 0)
        return make_error(Errc::unsupported,
                          opt.input.string() +
                              ": no linear layer of this .qbin fits the AutoAWQ GEMM layout "
                              "(4-bit, a group size of 32, 64, 128 or 256 dividing the width); "
                              "re-quantize with --bits 4 --group-size 128");
    std::unordered_set<std::string> names;
    for (const auto& pc : p.pieces)
        if (!names.insert(pc.t.name).second)
            return make_error(Errc::bad_format, opt.input.string() + ": tensor name '" + pc.t.name +
                                                    "' would appear twice in the AutoAWQ output");
    return p;
}

// --- Output folder: written as a hidden sibling, then renamed into place. ---

fs::path absolute_clean(const fs::path& p) {
    std::error_code ec;
    fs::path a = fs::weakly_canonical(fs::absolute(p, ec), ec);
    return ec ? p.lexically_normal() : a;
}

// a is b or inside b.
bool is_within(const fs::path& a, const fs::path& b) {
    const fs::path ca = absolute_clean(a), cb = absolute_clean(b);
    auto ia = ca.begin();
    for (auto ib = cb.begin(); ib != cb.end(); ++ib, ++ia) {
        if (ib->empty() && std::next(ib) == cb.end()) break;  // trailing separator
        if (ia == ca.end() || *ia != *ib) return false;
    }
    return true;
}

std::string errno_text(int e) {
    return std::strerror(e);
}

std::string salt_text() {
    static std::atomic<uint64_t> counter{0};
    const uint64_t salt =
        (static_cast<uint64_t>(::getpid()) << 32) ^ counter.fetch_add(1) ^
        static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    char s[17];
    std::snprintf(s, sizeof s, "%016llx", static_cast<unsigned long long>(salt));
    return s;
}

class TempFolder {
  public:
    TempFolder() = default;
    TempFolder(const TempFolder&) = delete;
    TempFolder& operator=(const TempFolder&) = delete;
    TempFolder(TempFolder&& o) noexcept : dest_(std::move(o.dest_)), tmp_(std::move(o.tmp_)) {
        o.tmp_.clear();
    }
    ~TempFolder() {
        if (!tmp_.empty()) {
            std::error_code ec;
            fs::remove_all(tmp_, ec);
        }
    }

    static Result<TempFolder> create(const fs::path& dest) {
        const fs::path dir = dest.parent_path().empty() ? fs::path(".") : dest.parent_path();
        TempFolder t;
        for (int attempt = 0; attempt < 100; ++attempt) {
            std::string name = ".";
            name += dest.filename().string();
            name += ".sutra-tmp-";
            name += salt_text();
            const fs::path p = dir / name;
            if (::mkdir(p.c_str(), 0777) == 0) {
                t.dest_ = dest;
                t.tmp_ = p;
                return t;
            }
            if (errno != EEXIST)
                return make_error(Errc::io, dest.string() +
                                                ": cannot create a temporary folder in " +
                                                dir.string() + ": " + errno_text(errno));
        }
        return make_error(Errc::io,
                          dest.string() + ": cannot create a temporary folder in " + dir.string());
    }

    const fs::path& path() const { return tmp_; }

    // Moves the folder into place; an existing destination (allowed by the caller) is
    // swapped out atomically where the system can (renameat2 RENAME_EXCHANGE) and removed.
    Status commit() {
        std::error_code ec;
        const bool exists = fs::exists(fs::symlink_status(dest_, ec));
        if (!exists) {
            if (::rename(tmp_.c_str(), dest_.c_str()) != 0)
                return make_error(Errc::io, dest_.string() +
                                                ": cannot rename the temporary folder into "
                                                "place: " +
                                                errno_text(errno));
            tmp_.clear();
        } else if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, dest_.c_str(), RENAME_EXCHANGE) ==
                   0) {
            fs::remove_all(tmp_, ec);  // now the old output
            tmp_.clear();
        } else {
            std::string old_name = ".";
            old_name += dest_.filename().string();
            old_name += ".sutra-old-";
            old_name += salt_text();
            const fs::path old =
                dest_.parent_path().empty() ? fs::path(old_name) : dest_.parent_path() / old_name;
            if (::rename(dest_.c_str(), old.c_str()) != 0)
                return make_error(Errc::io, dest_.string() +
                                                ": cannot move the old output "
                                                "aside: " +
                                                errno_text(errno));
            if (::rename(tmp_.c_str(), dest_.c_str()) != 0) {
                const int e = errno;
                (void)::rename(old.c_str(), dest_.c_str());
                return make_error(Errc::io, dest_.string() +
                                                ": cannot rename the temporary folder into "
                                                "place: " +
                                                errno_text(e));
            }
            tmp_.clear();
            fs::remove_all(old, ec);
        }
        const fs::path dir = dest_.parent_path().empty() ? fs::path(".") : dest_.parent_path();
        const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            ::fsync(dfd);
            ::close(dfd);
        }
        return {};
    }

  private:
    fs::path dest_, tmp_;
};

Status check_output(const ExportOptions& opt, const fs::path& model_dir) {
    const fs::path& out = opt.output;
    const std::string o = out.string();
    std::vector<std::pair<fs::path, std::string>> keep = {{opt.input, "the input .qbin"},
                                                          {model_dir, "the source folder"}};
    if (opt.tokenizer) keep.emplace_back(*opt.tokenizer, "the tokenizer");
    for (const auto& [p, what] : keep)
        if (is_within(p, out))
            return make_error(Errc::invalid_argument,
                              o + ": the output would replace " + what + " " + p.string() +
                                  "; choose another output folder (sutra never overwrites its "
                                  "input)");
    std::error_code ec;
    if (fs::exists(fs::symlink_status(out, ec)) && !opt.force)
        return make_error(Errc::exists,
                          o + ": already exists; use --force to replace it (the whole folder "
                              "is replaced, never merged)");
    const fs::path dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
    if (!fs::is_directory(dir, ec))
        return make_error(Errc::not_found,
                          o + ": the output's parent folder " + dir.string() + " does not exist");
    if (::access(dir.c_str(), W_OK) != 0)
        return make_error(Errc::io, o + ": cannot write in the folder " + dir.string() + ": " +
                                        errno_text(errno));
    return {};
}

// --- Files. ---

Status write_text_file(const fs::path& path, const std::string& text) {
    SUTRA_ASSIGN(io::OutputFile f, io::OutputFile::create(path, false, {}));
    SUTRA_TRY(f.write_at(0, {reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
    return f.commit();
}

Result<uint64_t> copy_one_file(const fs::path& src, const fs::path& dst) {
    SUTRA_ASSIGN(io::InputFile in, io::InputFile::open(src));
    SUTRA_ASSIGN(io::OutputFile out, io::OutputFile::create(dst, false, {}));
    std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(in.size(), 4u << 20)));
    for (uint64_t off = 0; off < in.size(); off += buf.size()) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), in.size() - off));
        SUTRA_TRY(in.read_at(off, std::span<uint8_t>(buf.data(), n)));
        SUTRA_TRY(out.write_at(off, std::span<const uint8_t>(buf.data(), n)));
    }
    SUTRA_TRY(in.check_unchanged());
    SUTRA_TRY(out.commit());
    return in.size();
}

Result<ojson> export_config(const fs::path& dir, const format::QbinFile& q, const ExportPlan& p) {
    const fs::path path = dir / "config.json";
    SUTRA_ASSIGN(ojson cfg, io::read_strict_ordered_json_file(path.string()));
    if (!cfg.is_object())
        return make_error(Errc::bad_format, path.string() + ": is not a JSON object");
    // A config of another model (a wrong --model-dir) is caught by the embedding width.
    if (const auto* emb = q.find("model.embed_tokens.weight");
        emb && emb->shape.size() == 2 && cfg.contains("hidden_size") &&
        cfg["hidden_size"].is_number_unsigned() &&
        cfg["hidden_size"].get<uint64_t>() != emb->shape[1])
        return make_error(Errc::invalid_argument,
                          path.string() + ": hidden_size " + cfg["hidden_size"].dump() +
                              " does not match the .qbin's embedding width " +
                              std::to_string(emb->shape[1]) +
                              "; is this the folder the model was quantized from? (--model-dir)");
    ojson qc;
    qc["quant_method"] = "awq";
    qc["bits"] = awq::kBits;
    qc["group_size"] = p.group_size;
    qc["zero_point"] = true;
    qc["version"] = "gemm";
    qc["modules_to_not_convert"] = p.not_convert;
    cfg["quantization_config"] = std::move(qc);
    cfg["torch_dtype"] = "float16";
    return cfg;
}

// --- Tensor data. ---

class ShardWriter {
  public:
    ShardWriter(const format::QbinFile& q, ProgressObserver* progress)
        : q_(q), progress_(progress) {}

    Status write(const fs::path& path, const std::vector<const Piece*>& pieces,
                 std::vector<std::string>& warnings) {
        std::vector<io::OutTensor> outs;
        for (const auto* pc : pieces)
            outs.push_back(pc->t);
        const std::string header = io::build_safetensors_header({{"format", "pt"}}, outs);
        const std::string prefix = io::header_length_prefix(header.size());
        SUTRA_ASSIGN(out_, io::OutputFile::create(path, false, {}));
        SUTRA_TRY(out_.write_at(0, {reinterpret_cast<const uint8_t*>(prefix.data()), 8}));
        SUTRA_TRY(
            out_.write_at(8, {reinterpret_cast<const uint8_t*>(header.data()), header.size()}));
        pos_ = 8 + header.size();
        for (const auto* pc : pieces) {
            const uint64_t start = pos_;
            SUTRA_TRY(write_piece(*pc, warnings));
            if (pos_ - start != pc->t.nbytes)
                return make_error(Errc::internal,
                                  pc->t.name + ": wrote " + std::to_string(pos_ - start) +
                                      " bytes, planned " + std::to_string(pc->t.nbytes));
            done_ += pc->t.nbytes;
            if (progress_) progress_->on_progress(pc->t.name, done_);
        }
        file_bytes_ += pos_;
        return out_.commit();
    }
    uint64_t file_bytes() const { return file_bytes_; }

  private:
    Status put(const void* data, size_t n) {
        SUTRA_TRY(out_.write_at(pos_, {static_cast<const uint8_t*>(data), n}));
        pos_ += n;
        return {};
    }

    Status write_piece(const Piece& pc, std::vector<std::string>& warnings) {
        const auto& r = q_.records()[pc.record];
        switch (pc.kind) {
            case Kind::qweight:
                return write_packed(r, 0, r.layout.row_code_bytes, r.layout.cols);
            case Kind::qzeros:
                return write_packed(r, 2, r.layout.row_zero_bytes, r.layout.n_groups);
            case Kind::scales:
                return write_scales(r);
            case Kind::to_f16:
                return write_f16(r, warnings);
            case Kind::copy:
                return write_copy(r);
        }
        return make_error(Errc::internal, "unknown tensor kind");
    }

    // Stored part `part` (qweight or qzeros: `width` 4-bit values per row in row_bytes bytes)
    // transposed into AutoAWQ words [width, out/8], eight output rows at a time.
    Status write_packed(const format::QbinRecord& r, size_t part, uint64_t row_bytes,
                        uint64_t width) {
        const uint64_t out = r.layout.rows, stride = out / awq::kPack;
        const auto& ref = q_.stored_ref(r, part);
        words_.assign(width * stride, 0);
        bytes_.resize(awq::kPack * row_bytes);
        codes_.resize(awq::kPack * width);
        const simd::Kernels& k = simd::active();
        for (uint64_t j = 0; j < stride; ++j) {
            SUTRA_TRY(q_.container().read_raw(ref, j * awq::kPack * row_bytes, bytes_));
            for (uint64_t t = 0; t < awq::kPack; ++t)
                quant::unpack_row_codes(k, bytes_.data() + t * row_bytes, width, r.bits,
                                        codes_.data() + t * width);
            awq::pack_column_block(codes_.data(), width, j, stride, words_.data());
        }
        return put(words_.data(), words_.size() * 4);
    }

    Status write_scales(const format::QbinRecord& r) {
        const uint64_t out = r.layout.rows, ng = r.layout.n_groups;
        std::vector<uint16_t> s(out * ng), t(out * ng);
        SUTRA_TRY(q_.container().read_raw(
            q_.stored_ref(r, 1), 0,
            std::span<uint8_t>(reinterpret_cast<uint8_t*>(s.data()), s.size() * 2)));
        awq::transpose_u16(s.data(), out, ng, t.data());
        return put(t.data(), t.size() * 2);
    }

    Status write_f16(const format::QbinRecord& r, std::vector<std::string>& warnings) {
        const uint64_t nr = format::QbinFile::rows_of(r), nc = format::QbinFile::cols_of(r);
        if (numel(r.shape) == 0) return {};
        const uint64_t block =
            std::max<uint64_t>(1, (1u << 20) / std::max<uint64_t>(nc, 1));  // 4 MB of f32
        uint64_t overflow = 0;
        for (uint64_t r0 = 0; r0 < nr; r0 += block) {
            const uint64_t n = std::min(block, nr - r0);
            rows_.resize(n * nc);
            halves_.resize(n * nc);
            SUTRA_TRY(q_.read_rows_f32(r, r0, n, rows_.data()));
            for (size_t i = 0; i < rows_.size(); ++i) {
                halves_[i] = f32_to_f16(rows_[i]);
                overflow += std::isfinite(rows_[i]) && (halves_[i] & 0x7fffu) == 0x7c00u;
            }
            SUTRA_TRY(put(halves_.data(), halves_.size() * 2));
        }
        if (overflow > 0)
            warnings.push_back(r.name + ": " + std::to_string(overflow) +
                               " values are beyond the F16 range (65504) and became infinite");
        return {};
    }

    Status write_copy(const format::QbinRecord& r) {
        const auto& t = q_.stored_ref(r, 0);
        bytes_.resize(static_cast<size_t>(std::min<uint64_t>(t.nbytes, 16u << 20)));
        for (uint64_t off = 0; off < t.nbytes; off += bytes_.size()) {
            const size_t len =
                static_cast<size_t>(std::min<uint64_t>(bytes_.size(), t.nbytes - off));
            SUTRA_TRY(q_.container().read_raw(t, off, std::span<uint8_t>(bytes_.data(), len)));
            SUTRA_TRY(put(bytes_.data(), len));
        }
        return {};
    }

    const format::QbinFile& q_;
    ProgressObserver* progress_;
    io::OutputFile out_;
    uint64_t pos_ = 0, done_ = 0, file_bytes_ = 0;
    std::vector<uint32_t> words_;
    std::vector<uint8_t> bytes_, codes_;
    std::vector<float> rows_;
    std::vector<uint16_t> halves_;
};

std::string shard_name(size_t k, size_t n) {
    char s[64];
    std::snprintf(s, sizeof s, "model-%05zu-of-%05zu.safetensors", k + 1, n);
    return s;
}

std::string type_text(const Piece& pc) {
    switch (pc.kind) {
        case Kind::qweight:
            return "I32 qweight";
        case Kind::qzeros:
            return "I32 qzeros";
        case Kind::scales:
            return "F16 scales";
        default:
            return std::string(dtype_name(pc.t.dtype));
    }
}

}  // namespace

Result<ExportReport> export_autoawq(const ExportOptions& opt, ProgressObserver* progress) {
    const auto t0 = std::chrono::steady_clock::now();
    SUTRA_ASSIGN(format::QbinFile q, format::QbinFile::open(opt.input));
    SUTRA_ASSIGN(ExportPlan plan, make_plan(q, opt));
    SUTRA_ASSIGN(fs::path src, export_source_folder(opt));
    SUTRA_TRY(check_output(opt, src));
    SUTRA_ASSIGN(ojson config, export_config(src, q, plan));
    SUTRA_ASSIGN(auto damage, q.verify_data());
    if (!damage.empty())
        return make_error(Errc::corrupt,
                          opt.input.string() + ": tensor '" + damage.front().record +
                              "' is damaged (checksum of '" + damage.front().stored +
                              "' does not match); run `sutra validate` for the full list");

    // Shards: in file order, a new one when the next tensor would pass the limit.
    std::vector<std::vector<const Piece*>> shards(1);
    uint64_t in_shard = 0, total = 0;
    for (const auto& pc : plan.pieces) {
        if (!shards.back().empty() && in_shard + pc.t.nbytes > opt.max_shard_bytes) {
            shards.emplace_back();
            in_shard = 0;
        }
        shards.back().push_back(&pc);
        in_shard += pc.t.nbytes;
        total += pc.t.nbytes;
    }

    ExportReport rep;
    rep.output = opt.output.string();
    rep.format = "autoawq";
    rep.warnings = plan.warnings;
    rep.quantized_linears = plan.quantized_linears;
    rep.group_size = plan.group_size;
    rep.modules_to_not_convert = plan.not_convert;
    SUTRA_ASSIGN(TempFolder tmp, TempFolder::create(opt.output));
    if (progress) progress->on_stage("export", total);
    ShardWriter w(q, progress);
    nlohmann::json weight_map = nlohmann::json::object();
    for (size_t k = 0; k < shards.size(); ++k) {
        const std::string name =
            shards.size() == 1 ? std::string("model.safetensors") : shard_name(k, shards.size());
        SUTRA_TRY(w.write(tmp.path() / name, shards[k], rep.warnings));
        rep.weight_files.push_back(name);
        for (const auto* pc : shards[k])
            weight_map[pc->t.name] = name;
    }
    if (progress) progress->on_stage_end();
    rep.output_bytes = w.file_bytes();
    if (shards.size() > 1) {
        nlohmann::ordered_json index;
        index["metadata"]["total_size"] = total;
        index["weight_map"] = std::move(weight_map);
        const std::string text = index.dump(2) + "\n";
        SUTRA_TRY(write_text_file(tmp.path() / "model.safetensors.index.json", text));
        rep.output_bytes += text.size();
    }
    const std::string config_text = config.dump(2) + "\n";
    SUTRA_TRY(write_text_file(tmp.path() / "config.json", config_text));
    rep.output_bytes += config_text.size();

    // Tokenizer and generation files: from --tokenizer (a file, or a folder's tokenizer
    // files) when given, else from the source folder.
    std::error_code ec;
    std::vector<fs::path> copies;
    if (fs::exists(src / "generation_config.json", ec))
        copies.push_back(src / "generation_config.json");
    const bool tok_file = opt.tokenizer && !fs::is_directory(*opt.tokenizer, ec);
    if (tok_file) {
        copies.push_back(*opt.tokenizer);
    } else {
        const fs::path tdir = opt.tokenizer ? *opt.tokenizer : src;
        bool any = false;
        for (const auto& n : tokenizer_files())
            if (fs::is_regular_file(tdir / n, ec)) {
                copies.push_back(tdir / n);
                any = true;
            }
        if (!any)
            rep.warnings.push_back(tdir.string() +
                                   ": no tokenizer file found (tokenizer.json, tokenizer.model, "
                                   "...); the output has none");
    }
    for (const auto& c : copies) {
        const fs::path dst = tmp.path() / c.filename();
        if (fs::exists(dst, ec)) continue;  // e.g. --tokenizer FILE named like another copy
        SUTRA_ASSIGN(uint64_t n, copy_one_file(c, dst));
        rep.output_bytes += n;
        rep.copied_files.push_back(c.filename().string());
    }
    SUTRA_TRY(q.container().check_unchanged());
    SUTRA_TRY(tmp.commit());

    for (const auto& pc : plan.pieces)
        rep.tensors.push_back({pc.t.name, type_text(pc), pc.t.shape, pc.note});
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rep.peak_rss_bytes = peak_rss_bytes();
    return rep;
}

}  // namespace sutra::pipeline
