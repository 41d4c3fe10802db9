#include "sutra/calib/imatrix_file.hpp"

#include <cmath>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "sutra/format/gguf_names.hpp"
#include "sutra/format/gguf_reader.hpp"
#include "sutra/io/file.hpp"
#include "sutra/io/foreign_format.hpp"

namespace sutra::calib {
namespace fs = std::filesystem;

namespace {

constexpr uint32_t kMaxNameBytes = 4096;

bool printable_name(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u > 0x7e) return false;
    }
    return true;
}

// Little-endian reads over the file's bytes; every read checks what remains.
class Cursor {
  public:
    Cursor(std::span<const uint8_t> bytes, const std::string& what) : b_(bytes), what_(what) {}
    uint64_t offset() const { return pos_; }
    uint64_t remaining() const { return b_.size() - pos_; }

    Result<int32_t> i32(const std::string& field) {
        if (remaining() < 4) return truncated(field, 4);
        uint32_t v = 0;
        for (int i = 3; i >= 0; --i)
            v = (v << 8) | b_[pos_ + static_cast<size_t>(i)];
        pos_ += 4;
        int32_t s = 0;
        std::memcpy(&s, &v, sizeof s);
        return s;
    }
    Result<std::string_view> bytes(uint64_t n, const std::string& field) {
        if (remaining() < n) return truncated(field, n);
        std::string_view s(reinterpret_cast<const char*>(b_.data() + pos_), static_cast<size_t>(n));
        pos_ += n;
        return s;
    }
    Error error(const std::string& msg) const {
        return make_error(Errc::bad_format,
                          what_ + ": byte " + std::to_string(pos_) + ": " + msg +
                              " (not an imatrix file written by llama-imatrix, or a damaged one)");
    }

  private:
    Error truncated(const std::string& field, uint64_t n) const {
        return make_error(Errc::bad_format, what_ + ": byte " + std::to_string(pos_) + ": " +
                                                field + " needs " + std::to_string(n) +
                                                " bytes, the file has " +
                                                std::to_string(remaining()) +
                                                " left (truncated or not an imatrix file)");
    }
    std::span<const uint8_t> b_;
    const std::string& what_;
    uint64_t pos_ = 0;
};

float f32_at(std::string_view s, size_t i) {
    uint32_t v = 0;
    for (int k = 3; k >= 0; --k)
        v = (v << 8) | static_cast<unsigned char>(s[i * 4 + static_cast<size_t>(k)]);
    float f = 0;
    std::memcpy(&f, &v, sizeof f);
    return f;
}

// N of a name "blk.N.<rest>" (decimal, no leading zeros), if it is one.
std::optional<int> ggml_block_of(std::string_view name) {
    constexpr std::string_view prefix = "blk.";
    if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
    name.remove_prefix(prefix.size());
    size_t digits = 0;
    while (digits < name.size() && digits < 6 && name[digits] >= '0' && name[digits] <= '9')
        ++digits;
    if (digits == 0 || digits >= name.size() || name[digits] != '.' ||
        (digits > 1 && name[0] == '0'))
        return std::nullopt;
    int n = 0;
    for (size_t i = 0; i < digits; ++i)
        n = n * 10 + (name[i] - '0');
    return n;
}

// "blk.N.<rest>" -> "blk.0.<rest>" (for a name ggml_block_of accepts).
std::string block_zero_name(std::string_view name) {
    const size_t dot = name.find('.', 4);
    return "blk.0" + std::string(name.substr(dot));
}

}  // namespace

std::string_view imatrix_layout_name(ImatrixLayout l) {
    return l == ImatrixLayout::gguf ? "gguf" : "legacy";
}

CalibFileKind sniff_calib_file(std::span<const uint8_t> head, uint64_t file_size) {
    if (head.size() >= 4 && std::memcmp(head.data(), "GGUF", 4) == 0)
        return CalibFileKind::imatrix_gguf;
    if (io::looks_like_safetensors(head, file_size)) return CalibFileKind::sutra_stats;
    // Legacy: int32 entry count >= 1, int32 name length in [1, kMaxNameBytes], printable name.
    if (head.size() < 9) return CalibFileKind::unknown;
    auto le32 = [&](size_t at) {
        uint32_t v = 0;
        for (int i = 3; i >= 0; --i)
            v = (v << 8) | head[at + static_cast<size_t>(i)];
        return v;
    };
    const uint32_t n = le32(0), len = le32(4);
    if (n < 1 || n > 0x7fffffff || len < 1 || len > kMaxNameBytes) return CalibFileKind::unknown;
    const size_t shown = std::min<size_t>(head.size() - 8, len);
    if (!printable_name({reinterpret_cast<const char*>(head.data() + 8), shown}))
        return CalibFileKind::unknown;
    return CalibFileKind::imatrix_legacy;
}

Result<Imatrix> parse_imatrix_legacy(std::span<const uint8_t> bytes, const std::string& what) {
    // int32 n_entries; per entry: int32 name length, name, int32 ncall, int32 nval,
    // f32 values[nval] (mean x^2 times ncall); then optionally int32 chunk count, int32
    // dataset name length, dataset name.
    Cursor c(bytes, what);
    SUTRA_ASSIGN(const int32_t n, c.i32("the entry count"));
    // The smallest entry takes 17 bytes (a 1-byte name and one value).
    if (n < 1 || static_cast<uint64_t>(n) > c.remaining() / 17)
        return c.error("entry count " + std::to_string(n) + " is out of range for a file of " +
                       std::to_string(bytes.size()) + " bytes");
    Imatrix m;
    m.info.layout = ImatrixLayout::legacy;
    m.entries.reserve(static_cast<size_t>(n));
    std::unordered_set<std::string> names;
    for (int32_t i = 0; i < n; ++i) {
        const std::string entry = "entry " + std::to_string(i);
        SUTRA_ASSIGN(const int32_t len, c.i32(entry + " name length"));
        if (len < 1 || static_cast<uint32_t>(len) > kMaxNameBytes)
            return c.error(entry + ": name length " + std::to_string(len) +
                           " is out of range [1, " + std::to_string(kMaxNameBytes) + "]");
        SUTRA_ASSIGN(const std::string_view name, c.bytes(static_cast<uint64_t>(len), entry));
        if (!printable_name(name)) return c.error(entry + ": the name is not printable ASCII");
        ImatrixEntry e;
        e.name = std::string(name);
        const std::string ent = entry + " '" + e.name + "'";
        if (!names.insert(e.name).second) return c.error(ent + " appears twice");
        SUTRA_ASSIGN(const int32_t ncall, c.i32(ent + " ncall"));
        SUTRA_ASSIGN(const int32_t nval, c.i32(ent + " nval"));
        if (ncall < 1)
            return c.error(ent + ": ncall " + std::to_string(ncall) +
                           " (chunks seen) must be positive: the entry holds no data");
        if (nval < 1 || static_cast<uint64_t>(nval) > c.remaining() / 4)
            return c.error(ent + ": nval " + std::to_string(nval) + " does not fit the " +
                           std::to_string(c.remaining()) + " bytes left");
        const uint64_t at = c.offset();
        SUTRA_ASSIGN(const std::string_view raw, c.bytes(static_cast<uint64_t>(nval) * 4, ent));
        e.mean_sq.resize(static_cast<size_t>(nval));
        const auto calls = static_cast<float>(ncall);
        for (size_t j = 0; j < e.mean_sq.size(); ++j) {
            const float v = f32_at(raw, j);
            if (!std::isfinite(v) || v < 0)
                return make_error(Errc::bad_format,
                                  what + ": byte " + std::to_string(at + 4 * j) + ": " + ent +
                                      " value " + std::to_string(j) + " is " + std::to_string(v) +
                                      " (a sum of squares must be finite and not negative)");
            e.mean_sq[j] = v / calls;
        }
        m.entries.push_back(std::move(e));
    }
    // The trailer: nothing (older files), the chunk count alone, or the chunk count and the
    // dataset name.
    if (c.remaining() == 0) return m;
    SUTRA_ASSIGN(const int32_t chunks, c.i32("the chunk count"));
    if (chunks < 0) return c.error("chunk count " + std::to_string(chunks) + " is negative");
    m.info.chunk_count = chunks;
    if (c.remaining() == 0) return m;
    SUTRA_ASSIGN(const int32_t dlen, c.i32("the dataset name length"));
    if (dlen < 0 || static_cast<uint64_t>(dlen) != c.remaining())
        return c.error("dataset name length " + std::to_string(dlen) + " does not match the " +
                       std::to_string(c.remaining()) + " bytes left");
    SUTRA_ASSIGN(const std::string_view ds, c.bytes(static_cast<uint64_t>(dlen), "dataset name"));
    if (!ds.empty()) m.info.datasets.emplace_back(ds);
    return m;
}

Result<Imatrix> parse_imatrix_gguf(std::span<const uint8_t> bytes, const std::string& what) {
    // Tensors "<name>.in_sum2" (F32 [ne0, nmat]: sums of x^2) and "<name>.counts" (F32
    // [1, nmat]: tokens), optionally "<name>.in_sum" (sums of x, unused); metadata
    // general.type = "imatrix", imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size.
    SUTRA_ASSIGN(const format::GgufHeader h, format::parse_gguf_header(bytes, bytes.size(), what));
    auto bad = [&](const std::string& msg) {
        return make_error(Errc::bad_format, what + ": " + msg);
    };
    Imatrix m;
    m.info.layout = ImatrixLayout::gguf;
    if (const auto* v = h.find("general.type")) {
        const std::string* s = v->as_string();
        if (!s) return bad("general.type is not a string");
        if (*s != "imatrix")
            return bad("general.type is \"" + *s +
                       "\": this GGUF file is not an importance matrix (pass the file "
                       "llama-imatrix writes, not the model)");
    }
    if (const auto* v = h.find("imatrix.datasets")) {
        if (v->type != format::GgufType::array || v->elem != format::GgufType::string)
            return bad("imatrix.datasets is not an array of strings");
        for (const auto& item : v->items)
            m.info.datasets.push_back(item.s);
    }
    for (const auto& [key, field] : {std::pair{"imatrix.chunk_count", &m.info.chunk_count},
                                     std::pair{"imatrix.chunk_size", &m.info.chunk_size}}) {
        if (const auto* v = h.find(key)) {
            const auto n = v->as_uint();
            if (!n || *n > 0x7fffffff) return bad(std::string(key) + " is not a count");
            *field = static_cast<int64_t>(*n);
        }
    }

    struct Parts {
        const format::GgufTensorInfo* sum2 = nullptr;
        const format::GgufTensorInfo* counts = nullptr;
        const format::GgufTensorInfo* sum = nullptr;
    };
    std::vector<std::pair<std::string, Parts>> by_name;  // in order of first appearance
    std::unordered_map<std::string, size_t> index;
    auto parts_of = [&](const std::string& base) -> Parts& {
        const auto [it, added] = index.emplace(base, by_name.size());
        if (added) by_name.emplace_back(base, Parts{});
        return by_name[it->second].second;
    };
    for (const auto& t : h.tensors) {
        bool known = false;
        for (const auto& [suffix, slot] : {std::pair{std::string_view(".in_sum2"), &Parts::sum2},
                                           std::pair{std::string_view(".counts"), &Parts::counts},
                                           std::pair{std::string_view(".in_sum"), &Parts::sum}}) {
            if (t.name.size() > suffix.size() &&
                std::string_view(t.name).substr(t.name.size() - suffix.size()) == suffix) {
                // Names are unique in a parsed header, so each slot is set at most once.
                parts_of(t.name.substr(0, t.name.size() - suffix.size())).*slot = &t;
                known = true;
                break;
            }
        }
        if (!known)
            return bad("tensor '" + t.name +
                       "' is not part of an importance matrix (expected <name>.in_sum2 and "
                       "<name>.counts; is this a GGUF model?)");
        if (t.type_id != 0)
            return bad("tensor '" + t.name + "' has ggml type " + std::to_string(t.type_id) +
                       ", an imatrix stores F32 (type 0)");
    }
    if (by_name.empty()) return bad("holds no tensors: an empty importance matrix");

    auto value = [&](const format::GgufTensorInfo& t, uint64_t j) {
        const uint64_t at = h.data_start + t.offset + 4 * j;  // inside the file: header checks
        return f32_at({reinterpret_cast<const char*>(bytes.data() + at), 4}, 0);
    };
    for (const auto& [name, p] : by_name) {
        if (!p.sum2 || !p.counts)
            return bad("entry '" + name + "' has " + (p.sum2 ? "no .counts" : "no .in_sum2") +
                       " tensor");
        const uint64_t nmat = p.sum2->dims.size() >= 2 ? p.sum2->numel / p.sum2->dims[0] : 1;
        if (p.sum2->dims.size() > 2 || p.counts->numel != nmat)
            return bad("entry '" + name + "': .in_sum2 has " + std::to_string(p.sum2->numel) +
                       " values over " + std::to_string(p.sum2->dims.size()) +
                       " dimensions and .counts " + std::to_string(p.counts->numel) +
                       ": they do not describe the same matrices");
        if (p.sum && p.sum->numel != p.sum2->numel)
            return bad("entry '" + name + "': .in_sum and .in_sum2 differ in size");
        if (nmat != 1)
            return make_error(Errc::unsupported,
                              what + ": entry '" + name + "' covers " + std::to_string(nmat) +
                                  " matrices (mixture-of-experts weights), which sutra does not "
                                  "quantize; use an imatrix of a dense model");
        const float count = value(*p.counts, 0);
        if (!std::isfinite(count) || count < 1 || count != std::nearbyint(count))
            return bad("entry '" + name + "': token count " + std::to_string(count) +
                       " is not a positive whole number (the matrix saw no input?)");
        ImatrixEntry e;
        e.name = name;
        e.tokens = static_cast<uint64_t>(count);
        e.mean_sq.resize(static_cast<size_t>(p.sum2->numel));
        for (size_t j = 0; j < e.mean_sq.size(); ++j) {
            const float v = value(*p.sum2, j);
            if (!std::isfinite(v) || v < 0)
                return bad("entry '" + name + "' .in_sum2 value " + std::to_string(j) + " is " +
                           std::to_string(v) +
                           " (a sum of squares must be finite and not negative)");
            e.mean_sq[j] = v / count;
        }
        m.entries.push_back(std::move(e));
    }
    return m;
}

Result<Imatrix> parse_imatrix(std::span<const uint8_t> bytes, const std::string& what) {
    if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0)
        return parse_imatrix_gguf(bytes, what);
    return parse_imatrix_legacy(bytes, what);
}

Result<CalibrationData> imatrix_to_calibration(const Imatrix& m, const model::LlamaConfig& config,
                                               const std::string& what) {
    CalibrationData d;
    d.model = ModelFingerprint::of(config);
    const std::string other =
        ": the importance matrix was computed on another model; run llama-imatrix on this "
        "model's GGUF, or `sutra calibrate` on this model";
    // llama.cpp's name of every recorded linear of this model, from the one name table
    // (format/gguf_names.hpp, the converter's map).
    const std::vector<LinearInput> inputs = linear_inputs(config);
    std::unordered_map<std::string, const LinearInput*> by_ggml;
    for (const auto& li : inputs)
        if (const auto g = format::gguf_tensor_name(li.key + ".weight"))
            by_ggml.emplace(g->name, &li);
    int max_layer = -1;
    for (const auto& e : m.entries) {
        const auto it = by_ggml.find(e.name);
        if (it == by_ggml.end()) {
            // A linear of a layer this model does not have: the same name in block 0 is known.
            const auto layer = ggml_block_of(e.name);
            if (layer && *layer >= config.num_hidden_layers &&
                by_ggml.count(block_zero_name(e.name)))
                return make_error(Errc::invalid_argument,
                                  what + ": entry '" + e.name + "' is for layer " +
                                      std::to_string(*layer) + ", this model has " +
                                      std::to_string(config.num_hidden_layers) + " layers" + other);
            const bool experts = e.name.find("_exps") != std::string::npos ||
                                 e.name.find("_inp") != std::string::npos;
            const bool fused = e.name.find("attn_qkv") != std::string::npos;
            return make_error(
                Errc::unsupported,
                what + ": entry '" + e.name + "' " +
                    (experts ? "belongs to a mixture-of-experts layer, which sutra does not run"
                     : fused ? "is a fused q/k/v matrix of an architecture sutra does not run"
                             : "is not a linear layer of a Llama-family model (llama, mistral, "
                               "qwen2, qwen3)") +
                    "; use an imatrix of a model sutra runs");
        }
        const LinearInput& li = *it->second;
        if (static_cast<int64_t>(e.mean_sq.size()) != li.in_features) {
            const char* field = li.linear == "self_attn.o_proj" ? "num_attention_heads * head_dim"
                                : li.linear == "mlp.down_proj"  ? "intermediate_size"
                                                                : "hidden_size";
            return make_error(Errc::invalid_argument,
                              what + ": entry '" + e.name + "' has " +
                                  std::to_string(e.mean_sq.size()) + " input columns, this " +
                                  "model's " + li.linear + " has " +
                                  std::to_string(li.in_features) + " (" + field + ")" + other);
        }
        ChannelStats s;
        s.mean_sq = e.mean_sq;
        s.tokens = e.tokens;
        // Names are unique in a parsed file and the map is one to one.
        d.linears.emplace(li.key, std::move(s));
        max_layer = std::max(max_layer, li.layer);
    }
    // Every layer needs each of its four inputs; members of a group share theirs.
    static const std::vector<std::pair<std::vector<const char*>, const char*>> groups = {
        {{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, "attn_q/attn_k/attn_v"},
        {{"self_attn.o_proj"}, "attn_output"},
        {{"mlp.gate_proj", "mlp.up_proj"}, "ffn_gate/ffn_up"},
        {{"mlp.down_proj"}, "ffn_down"}};
    for (int layer = 0; layer < config.num_hidden_layers; ++layer) {
        for (const auto& [members, ggml] : groups) {
            const ChannelStats* have = nullptr;
            for (const char* lin : members) {
                const auto it = d.linears.find(linear_key(layer, lin));
                if (it != d.linears.end()) {
                    have = &it->second;
                    break;
                }
            }
            if (!have) {
                std::string why =
                    max_layer < layer
                        ? " (it stops at layer " + std::to_string(max_layer) + ", this model has " +
                              std::to_string(config.num_hidden_layers) + " layers)" + other
                        : "; llama-imatrix skips matrices that saw no input: "
                          "calibrate on a longer text";
                return make_error(Errc::invalid_argument, what + ": no entry for blk." +
                                                              std::to_string(layer) + "." + ggml +
                                                              ".weight" + why);
            }
            const ChannelStats copy = *have;
            for (const char* lin : members)
                d.linears.emplace(linear_key(layer, lin), copy);
        }
    }
    return d;
}

Result<CalibFileKind> sniff_calib_path(const fs::path& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return CalibFileKind::sutra_stats;  // its loader says why
    SUTRA_ASSIGN(io::InputFile f, io::InputFile::open(path));
    std::vector<uint8_t> head(static_cast<size_t>(std::min<uint64_t>(f.size(), 64)));
    SUTRA_TRY(f.read_at(0, head));
    return sniff_calib_file(head, f.size());
}

Result<CalibrationData> load_imatrix(const fs::path& path, const model::LlamaConfig& config,
                                     ImatrixInfo* info) {
    const std::string p = path.string();
    std::error_code ec;
    if (fs::is_directory(path, ec))
        return make_error(Errc::invalid_argument,
                          p + ": is a folder; pass the imatrix file written by llama-imatrix");
    SUTRA_ASSIGN(io::InputFile f, io::InputFile::open(path));
    if (f.size() > kMaxImatrixBytes)
        return make_error(Errc::too_large, p + ": " + std::to_string(f.size()) +
                                               " bytes is more than an imatrix holds (limit " +
                                               std::to_string(kMaxImatrixBytes) + ")");
    std::vector<uint8_t> bytes(static_cast<size_t>(f.size()));
    SUTRA_TRY(f.read_at(0, bytes));
    SUTRA_ASSIGN(Imatrix m, parse_imatrix(bytes, p));
    SUTRA_ASSIGN(CalibrationData d, imatrix_to_calibration(m, config, p));
    if (info) *info = m.info;
    return d;
}

}  // namespace sutra::calib
