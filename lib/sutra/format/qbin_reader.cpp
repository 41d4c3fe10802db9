#include "sutra/format/qbin_reader.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "sutra/base/checked.hpp"
#include "sutra/base/checksum.hpp"
#include "sutra/io/strict_json.hpp"
#include "sutra/plan/config.hpp"
#include "sutra/quant/quant_type.hpp"
#include "sutra/quant/rtn.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::format {
namespace {

using json = nlohmann::json;

Error bad(const std::string& file, const std::string& msg) {
    return make_error(Errc::bad_format, file + ": not a valid .qbin: " + msg);
}

Result<QbinRecord> parse_record(const json& t, size_t i, const std::string& file) {
    const std::string where = "profile tensors[" + std::to_string(i) + "]";
    if (!t.is_object()) return bad(file, where + " is not an object");
    auto str = [&](const char* k) -> const std::string* {
        auto it = t.find(k);
        return (it != t.end() && it->is_string()) ? &it->get_ref<const std::string&>() : nullptr;
    };
    QbinRecord r;
    const std::string* name = str("name");
    const std::string* dtype = str("dtype");
    const std::string* enc = str("encoding");
    if (!name || !dtype || !enc)
        return bad(file, where + " needs string fields name, dtype, encoding");
    r.name = *name;
    auto dt = parse_dtype(*dtype);
    if (!dt) return bad(file, where + ": unknown dtype " + *dtype);
    r.dtype = *dt;
    if (const std::string* role = str("role")) r.role = *role;
    if (auto tr = t.find("transformed"); tr != t.end()) {
        if (!tr->is_boolean()) return bad(file, where + ": transformed must be true or false");
        r.transformed = tr->get<bool>();
    }
    auto sh = t.find("shape");
    if (sh == t.end() || !sh->is_array()) return bad(file, where + ": shape must be an array");
    for (const auto& d : *sh) {
        if (!d.is_number_unsigned())
            return bad(file, where + ": shape entries must be whole numbers");
        r.shape.push_back(d.get<uint64_t>());
    }
    if (!dtype_nbytes(r.dtype, r.shape))
        return bad(file, where + ": shape overflows (or a sub-byte " + *dtype +
                             " tensor does not fill whole bytes)");
    auto st = t.find("stored");
    if (st == t.end() || !st->is_array()) return bad(file, where + ": stored must be an array");
    for (const auto& s : *st) {
        if (!s.is_object() || !s.contains("name") || !s["name"].is_string() ||
            !s.contains("xxh3") || !s["xxh3"].is_string())
            return bad(file, where + ": stored entries need name and xxh3 strings");
        auto h = parse_hex64(s["xxh3"].get<std::string>());
        if (!h) return bad(file, where + ": xxh3 must be 16 lowercase hex digits");
        r.stored.push_back(s["name"].get<std::string>());
        r.xxh3.push_back(*h);
    }
    if (*enc == "raw") {
        if (r.stored.size() != 1)
            return bad(file, where + ": a raw tensor has exactly one stored tensor");
        return r;
    }
    const auto* qt = quant::quant_type_by_name(*enc);
    if (!qt) return bad(file, where + ": unknown encoding \"" + *enc + "\"");
    r.quantized = true;
    r.bits = qt->bits;
    if (!t.contains("bits") || !t["bits"].is_number_unsigned() ||
        t["bits"].get<uint64_t>() != static_cast<uint64_t>(r.bits))
        return bad(file, where + ": bits does not match encoding " + *enc);
    const auto& g = t.contains("group_size") ? t["group_size"] : json();
    if (g.is_string() && g.get<std::string>() == "row")
        r.group_size = 0;
    else if (g.is_number_unsigned() && g.get<uint64_t>() > 0 &&
             quant::is_allowed_group_size(static_cast<uint32_t>(g.get<uint64_t>())) &&
             g.get<uint64_t>() <= 256)
        r.group_size = static_cast<uint32_t>(g.get<uint64_t>());
    else
        return bad(file, where + ": group_size must be 32, 64, 128, 256 or \"row\"");
    if (r.shape.size() != 2 || r.shape[0] == 0 || r.shape[1] == 0 ||
        !dtype_is_float_quantizable(r.dtype))
        return bad(file,
                   where + ": a quantized tensor must be a non-empty 2-D F32/F16/BF16 weight");
    if (r.stored.size() != 3) return bad(file, where + ": a quantized tensor has 3 stored tensors");
    // The layout packs cols * bits bits per row: refuse a width for which that overflows (its
    // byte counts would wrap to a few bytes while the row still has cols values to decode).
    auto row_bits = checked_mul(r.shape[1], static_cast<uint64_t>(r.bits));
    if (!row_bits || !checked_add(*row_bits, 7))
        return bad(file, where + ": shape overflows (" + std::to_string(r.shape[1]) +
                             " columns of " + std::to_string(r.bits) + " bits)");
    r.layout = quant::make_layout(r.shape[0], r.shape[1], r.bits, r.group_size);
    if (!t.contains("group_width") || !t["group_width"].is_number_unsigned() ||
        t["group_width"].get<uint64_t>() != r.layout.group)
        return bad(file, where + ": group_width does not match shape and group_size");
    return r;
}

}  // namespace

const QbinRecord* QbinFile::find(std::string_view name) const {
    for (const auto& r : records_)
        if (r.name == name) return &r;
    return nullptr;
}

const io::TensorRef& QbinFile::stored_ref(const QbinRecord& r, size_t k) const {
    const size_t idx = static_cast<size_t>(&r - records_.data());
    return ck_.tensors()[refs_[idx][k]];
}

Result<QbinFile> QbinFile::open(const std::filesystem::path& path) {
    const std::string file = path.string();
    QbinFile q;
    SUTRA_ASSIGN(q.ck_, io::Checkpoint::open(path));
    if (q.ck_.files().size() != 1)
        return bad(file, "a .qbin is a single file, not a sharded checkpoint");
    const auto& meta = q.ck_.metadata();
    auto get = [&](std::string_view key) -> const std::string* {
        for (const auto& [k, v] : meta)
            if (k == key) return &v;
        return nullptr;
    };
    const std::string* prof = get(kProfileKey);
    const std::string* sum = get(kHeaderChecksumKey);
    if (!prof && !sum)
        return bad(
            file,
            "no sutra profile in __metadata__ (is it a plain safetensors file? use it as an input "
            "to `sutra quantize` instead)");
    if (!prof || !sum)
        return make_error(Errc::corrupt, file +
                                             ": the sutra profile is damaged: __metadata__ has "
                                             "no \"" +
                                             std::string(!prof ? kProfileKey : kHeaderChecksumKey) +
                                             "\" (re-create the .qbin with `sutra quantize`)");

    // Header checksum over the raw header bytes.
    const io::InputFile& f = q.ck_.files().front();
    std::array<uint8_t, 8> prefix{};
    SUTRA_TRY(f.read_at(0, prefix));
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i)
        n = (n << 8) | prefix[static_cast<size_t>(i)];
    std::string header(n, '\0');
    SUTRA_TRY(
        f.read_at(8, std::span<uint8_t>(reinterpret_cast<uint8_t*>(header.data()), header.size())));
    auto checksum = format::header_checksum(
        std::string_view(reinterpret_cast<const char*>(prefix.data()), 8), header, nullptr);
    if (!checksum.ok())
        return make_error(checksum.error().code, file + ": " + checksum.error().message);
    const uint64_t computed = *checksum;
    auto stored_sum = parse_hex64(*sum);
    if (!stored_sum || *stored_sum != computed)
        return make_error(Errc::corrupt, file + ": header checksum mismatch (stored " + *sum +
                                             ", computed " + hex64(computed) +
                                             "): the header (tensor table or metadata) is damaged");
    q.header_xxh3_ = computed;

    SUTRA_ASSIGN(q.profile_, io::parse_strict_json(*prof, file + " sutra.profile"));
    const json& p = q.profile_;
    if (!p.is_object() || !p.contains("format") || p["format"] != kFormatName)
        return bad(file, "profile format is not \"sutra.qbin\"");
    if (!p.contains("format_version") || !p["format_version"].is_number_unsigned())
        return bad(file, "profile has no format_version");
    if (p["format_version"].get<uint64_t>() != static_cast<uint64_t>(kFormatVersion))
        return make_error(Errc::unsupported,
                          file + ": .qbin format version " +
                              std::to_string(p["format_version"].get<uint64_t>()) +
                              " is not supported by this sutra (reads version " +
                              std::to_string(kFormatVersion) + ")");
    if (!p.contains("tensors") || !p["tensors"].is_array())
        return bad(file, "profile has no tensors array");

    std::unordered_set<std::string> names;
    std::unordered_set<std::string> used;
    for (size_t i = 0; i < p["tensors"].size(); ++i) {
        SUTRA_ASSIGN(QbinRecord r, parse_record(p["tensors"][i], i, file));
        if (!names.insert(r.name).second)
            return bad(file, "tensor '" + r.name + "' is recorded twice");
        std::vector<size_t> refs;
        const auto expect = stored_tensors(r);
        for (size_t k = 0; k < expect.size(); ++k) {
            const io::TensorRef* t = q.ck_.find(expect[k].name);
            if (!t)
                return bad(file,
                           "stored tensor '" + expect[k].name + "' of '" + r.name + "' is missing");
            if (!used.insert(t->name).second)
                return bad(file, "stored tensor '" + t->name + "' is claimed twice");
            if (t->dtype != expect[k].dtype || t->shape != expect[k].shape)
                return bad(file, "stored tensor '" + t->name +
                                     "' has dtype/shape that do not match its record");
            refs.push_back(static_cast<size_t>(t - q.ck_.tensors().data()));
        }
        q.records_.push_back(std::move(r));
        q.refs_.push_back(std::move(refs));
    }
    if (used.size() != q.ck_.tensors().size())
        return bad(file, std::to_string(q.ck_.tensors().size() - used.size()) +
                             " stored tensor(s) are not described by the profile");
    return q;
}

Result<std::vector<DataDamage>> QbinFile::verify_data() const {
    std::vector<DataDamage> damage;
    std::vector<uint8_t> buf(
        std::min<uint64_t>(8u << 20, std::max<uint64_t>(1, ck_.total_file_bytes())));
    for (size_t r = 0; r < records_.size(); ++r) {
        for (size_t k = 0; k < refs_[r].size(); ++k) {
            const auto& t = ck_.tensors()[refs_[r][k]];
            Hasher h;
            for (uint64_t off = 0; off < t.nbytes; off += buf.size()) {
                const size_t len =
                    static_cast<size_t>(std::min<uint64_t>(buf.size(), t.nbytes - off));
                SUTRA_TRY(ck_.read_raw(t, off, std::span<uint8_t>(buf.data(), len)));
                h.update(std::span<const uint8_t>(buf.data(), len));
            }
            if (h.digest() != records_[r].xxh3[k])
                damage.push_back(
                    {records_[r].name, t.name, hex64(records_[r].xxh3[k]), hex64(h.digest())});
        }
    }
    SUTRA_TRY(ck_.check_unchanged());
    return damage;
}

uint64_t QbinFile::rows_of(const QbinRecord& r) {
    if (r.quantized) return r.layout.rows;
    if (r.shape.size() < 2) return 1;
    return r.shape[0];
}

uint64_t QbinFile::cols_of(const QbinRecord& r) {
    if (r.quantized) return r.layout.cols;
    if (r.shape.empty()) return 1;
    if (r.shape.size() == 1) return r.shape[0];
    uint64_t c = 1;
    for (size_t i = 1; i < r.shape.size(); ++i)
        c *= r.shape[i];
    return c;
}

Status QbinFile::read_rows_f32(const QbinRecord& r, uint64_t row0, uint64_t nrows,
                               float* out) const {
    const size_t idx = static_cast<size_t>(&r - records_.data());
    const uint64_t cols = cols_of(r);
    if (!r.quantized) {
        const auto& t = ck_.tensors()[refs_[idx][0]];
        return ck_.read_f32(t, row0 * cols, std::span<float>(out, nrows * cols));
    }
    SUTRA_ASSIGN(quant::PackedMatrix m, read_packed_rows(idx, row0, nrows));
    m.dequantize_rows(simd::active(), 0, nrows, out);
    return {};
}

Result<quant::PackedMatrix> QbinFile::read_packed_rows(size_t idx, uint64_t row0,
                                                       uint64_t nrows) const {
    const QbinRecord& r = records_[idx];
    quant::QuantLayout layout = r.layout;
    layout.rows = nrows;
    const auto& l = r.layout;
    const auto& tq = ck_.tensors()[refs_[idx][0]];
    const auto& ts = ck_.tensors()[refs_[idx][1]];
    const auto& tz = ck_.tensors()[refs_[idx][2]];
    std::vector<uint8_t> codes(nrows * l.row_code_bytes), zeros(nrows * l.row_zero_bytes);
    std::vector<uint16_t> scales(nrows * l.n_groups);
    SUTRA_TRY(ck_.read_raw(tq, row0 * l.row_code_bytes, codes));
    SUTRA_TRY(ck_.read_raw(
        ts, row0 * l.n_groups * 2,
        std::span<uint8_t>(reinterpret_cast<uint8_t*>(scales.data()), scales.size() * 2)));
    SUTRA_TRY(ck_.read_raw(tz, row0 * l.row_zero_bytes, zeros));
    return quant::PackedMatrix::owning(layout, std::move(codes), std::move(scales),
                                       std::move(zeros));
}

Result<quant::PackedMatrix> QbinFile::map_packed(const QbinRecord& r) const {
    if (!r.quantized)
        return make_error(Errc::invalid_argument, "tensor '" + r.name + "' is not quantized");
    const size_t idx = static_cast<size_t>(&r - records_.data());
    // The three parts may lie in different shards: keep each one's mapping.
    auto keep = std::make_shared<std::array<std::shared_ptr<const void>, 3>>();
    SUTRA_ASSIGN(std::span<const uint8_t> codes,
                 ck_.map_raw(ck_.tensors()[refs_[idx][0]], (*keep)[0]));
    SUTRA_ASSIGN(std::span<const uint8_t> scales,
                 ck_.map_raw(ck_.tensors()[refs_[idx][1]], (*keep)[1]));
    SUTRA_ASSIGN(std::span<const uint8_t> zeros,
                 ck_.map_raw(ck_.tensors()[refs_[idx][2]], (*keep)[2]));
    // F16 scales are read as uint16: at an odd offset (a file not written by sutra, whose
    // writer aligns every tensor) they are copied instead.
    if (reinterpret_cast<uintptr_t>(scales.data()) % alignof(uint16_t) != 0) return read_packed(r);
    quant::PackedMatrix m;
    m.layout = r.layout;
    m.codes = codes;
    m.scales = std::span<const uint16_t>(reinterpret_cast<const uint16_t*>(scales.data()),
                                         scales.size() / 2);
    m.zeros = zeros;
    m.storage = std::move(keep);
    if (!m.consistent())
        return make_error(Errc::internal, "tensor '" + r.name + "': stored sizes do not match");
    return m;
}

Result<quant::PackedMatrix> QbinFile::read_packed(const QbinRecord& r) const {
    if (!r.quantized)
        return make_error(Errc::invalid_argument, "tensor '" + r.name + "' is not quantized");
    const size_t idx = static_cast<size_t>(&r - records_.data());
    return read_packed_rows(idx, 0, r.layout.rows);
}

Result<std::vector<float>> QbinFile::read_all_f32(const QbinRecord& r) const {
    std::vector<float> v(rows_of(r) * cols_of(r));
    SUTRA_TRY(read_rows_f32(r, 0, rows_of(r), v.data()));
    return v;
}

}  // namespace sutra::format
