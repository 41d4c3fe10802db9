#include "sutra/parts/part_file.hpp"

#include <cstring>

#include "sutra/base/checksum.hpp"
#include "sutra/io/safetensors_writer.hpp"
#include "sutra/io/strict_json.hpp"
#include "sutra/quant/quant_type.hpp"

namespace sutra::parts {
namespace {

using ojson = nlohmann::ordered_json;

ojson layout_json(const quant::QuantLayout& l) {
    return ojson{{"rows", l.rows},
                 {"cols", l.cols},
                 {"bits", l.bits},
                 {"group", l.group},
                 {"n_groups", l.n_groups},
                 {"row_code_bytes", l.row_code_bytes},
                 {"row_zero_bytes", l.row_zero_bytes}};
}

ojson record_json(const format::QbinRecord& r, bool with_sums) {
    ojson j;
    j["name"] = r.name;
    j["dtype"] = std::string(dtype_name(r.dtype));
    j["shape"] = r.shape;
    j["role"] = r.role;
    j["quantized"] = r.quantized;
    if (r.quantized) {
        j["bits"] = r.bits;
        j["group_size"] = r.group_size;
        j["layout"] = layout_json(r.layout);
    }
    j["transformed"] = r.transformed;
    j["stored"] = r.stored;
    if (with_sums) {
        ojson sums = ojson::array();
        for (size_t i = 0; i < r.stored.size(); ++i)
            sums.push_back(hex64(i < r.xxh3.size() ? r.xxh3[i] : 0));
        j["xxh3"] = std::move(sums);
    }
    return j;
}

// The header JSON with `sum` as its checksum digits.
std::string header_json(const PartRun& run, const std::string& id, const std::string& sum) {
    ojson j;
    j["schema"] = std::string(kPartSchema);
    j["part"] = run.index.k;
    j["parts"] = run.index.n;
    j["model"] = run.model;
    j["run"] = id;
    ojson ours = ojson::array();
    for (size_t i = 0; i < run.ours.size(); ++i)
        if (run.ours[i]) ours.push_back(i);
    j["ours"] = std::move(ours);
    ojson recs = ojson::array();
    for (size_t i = 0; i < run.records.size(); ++i)
        recs.push_back(record_json(run.records[i], i < run.ours.size() && run.ours[i]));
    j["records"] = std::move(recs);
    j["extra"] = run.extra;
    j[std::string(format::kHeaderChecksumKey)] = sum;
    return j.dump();
}

// The header length: the 8 little-endian bytes after the magic.
uint64_t header_length(const uint8_t* prefix16) {
    uint64_t len = 0;
    for (int i = 7; i >= 0; --i)
        len = (len << 8) | prefix16[8 + static_cast<size_t>(i)];
    return len;
}

Error damaged(const std::string& what, const std::string& why) {
    return make_error(Errc::invalid_argument,
                      what + " is not a usable sutra part file: " + why +
                          "; quantize this part again (sutra quantize ... --part K/N)");
}

// Reads a JSON unsigned integer of at most `max`.
Result<uint64_t> get_u64(const ojson& j, const char* key, uint64_t max, const std::string& what) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number_unsigned())
        return damaged(what, std::string("\"") + key + "\" is missing or not a whole number");
    const auto v = it->get<uint64_t>();
    if (v > max) return damaged(what, std::string("\"") + key + "\" is out of range");
    return v;
}

Result<std::string> get_str(const ojson& j, const char* key, const std::string& what) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string())
        return damaged(what, std::string("\"") + key + "\" is missing or not a string");
    return it->get<std::string>();
}

Result<format::QbinRecord> parse_record(const ojson& j, bool ours, const std::string& what) {
    if (!j.is_object()) return damaged(what, "a record is not an object");
    format::QbinRecord r;
    SUTRA_ASSIGN(r.name, get_str(j, "name", what));
    SUTRA_ASSIGN(const std::string dt, get_str(j, "dtype", what));
    const auto dtype = parse_dtype(dt);
    if (!dtype) return damaged(what, "record '" + r.name + "': unknown dtype \"" + dt + "\"");
    r.dtype = *dtype;
    const auto shape = j.find("shape");
    if (shape == j.end() || !shape->is_array() || shape->size() > 8)
        return damaged(what, "record '" + r.name + "': bad shape");
    uint64_t count = 1;
    for (const auto& d : *shape) {
        if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40))
            return damaged(what, "record '" + r.name + "': bad shape");
        r.shape.push_back(d.get<uint64_t>());
        count = r.shape.back() == 0 ? 0 : count;
        if (count && r.shape.back() > (uint64_t{1} << 50) / count)
            return damaged(what, "record '" + r.name + "': shape too large");
        count *= r.shape.back();
    }
    SUTRA_ASSIGN(r.role, get_str(j, "role", what));
    const auto q = j.find("quantized");
    const auto tr = j.find("transformed");
    if (q == j.end() || !q->is_boolean() || tr == j.end() || !tr->is_boolean())
        return damaged(what, "record '" + r.name + "': \"quantized\"/\"transformed\" missing");
    r.quantized = q->get<bool>();
    r.transformed = tr->get<bool>();
    if (r.quantized) {
        SUTRA_ASSIGN(const uint64_t bits, get_u64(j, "bits", 16, what));
        SUTRA_ASSIGN(const uint64_t gs, get_u64(j, "group_size", uint64_t{1} << 31, what));
        r.bits = static_cast<int>(bits);
        r.group_size = static_cast<uint32_t>(gs);
        if (!quant::quant_type_for_bits(r.bits) || r.shape.size() != 2 || count == 0)
            return damaged(what, "record '" + r.name + "': bad quantized record");
        const uint64_t rows = r.shape[0];
        const uint64_t cols = count / rows;
        r.layout = quant::make_layout(rows, cols, r.bits, r.group_size);
        const auto l = j.find("layout");
        if (l == j.end() || *l != layout_json(r.layout))
            return damaged(what, "record '" + r.name + "': its layout does not match its shape");
    }
    const auto st = j.find("stored");
    if (st == j.end() || !st->is_array() || st->size() != (r.quantized ? 3u : 1u))
        return damaged(what, "record '" + r.name + "': bad \"stored\"");
    for (const auto& s : *st) {
        if (!s.is_string()) return damaged(what, "record '" + r.name + "': bad \"stored\"");
        r.stored.push_back(s.get<std::string>());
    }
    const auto sums = j.find("xxh3");
    if (ours) {
        if (sums == j.end() || !sums->is_array() || sums->size() != r.stored.size())
            return damaged(what, "record '" + r.name + "': no checksums");
        for (const auto& s : *sums) {
            const auto v = s.is_string() ? parse_hex64(s.get<std::string>()) : std::nullopt;
            if (!v) return damaged(what, "record '" + r.name + "': bad checksum");
            r.xxh3.push_back(*v);
        }
    } else if (sums != j.end()) {
        return damaged(what, "record '" + r.name + "' has checksums but is not in this part");
    }
    return r;
}

}  // namespace

std::string run_id(const PartRun& run) {
    ojson j;
    j["model"] = run.model;
    j["parts"] = run.index.n;
    ojson recs = ojson::array();
    for (const auto& r : run.records)
        recs.push_back(record_json(r, false));
    j["records"] = std::move(recs);
    j["extra"] = run.extra;
    const std::string s = j.dump();
    return hex64(xxh3_64({reinterpret_cast<const uint8_t*>(s.data()), s.size()}));
}

std::string part_header(const PartRun& run) {
    const std::string id = run_id(run);
    std::string header = header_json(run, id, std::string(16, '0'));
    const std::string len = io::header_length_prefix(header.size());
    size_t at = 0;
    auto sum = format::header_checksum(len, header, &at);
    if (sum) header.replace(at, 16, hex64(*sum));
    return std::string(kPartMagic) + len + header;
}

Result<PartRun> parse_part_header(std::span<const uint8_t> head, uint64_t file_size,
                                  const std::string& what, uint64_t* data_offset,
                                  uint64_t* data_bytes, PartLimits limits) {
    if (head.size() < 16 || std::memcmp(head.data(), kPartMagic.data(), 8) != 0)
        return damaged(what, "it does not start with \"SUTRAPT1\"");
    const uint64_t len = header_length(head.data());
    if (len > limits.max_header_bytes || len > file_size - 16 || head.size() - 16 < len)
        return damaged(what, "its header length (" + std::to_string(len) +
                                 " bytes) does not fit the file (truncated?)");
    const std::string_view header(reinterpret_cast<const char*>(head.data()) + 16, len);
    const std::string_view len8(reinterpret_cast<const char*>(head.data()) + 8, 8);
    size_t at = 0;
    auto sum = format::header_checksum(len8, header, &at);
    if (!sum) return damaged(what, "its header has no checksum");
    const auto stated = parse_hex64(header.substr(at, 16));
    if (!stated || *stated != *sum)
        return damaged(what, "its header checksum does not match (the file is damaged)");
    auto parsed = io::parse_strict_ordered_json(header, what + " header",
                                                io::StrictJsonLimits{64, limits.max_header_bytes});
    if (!parsed) return damaged(what, parsed.error().message);
    const ojson& j = *parsed;
    if (!j.is_object()) return damaged(what, "its header is not a JSON object");
    SUTRA_ASSIGN(const std::string schema, get_str(j, "schema", what));
    if (schema != kPartSchema)
        return damaged(what, "schema \"" + schema + "\", not \"" + std::string(kPartSchema) + "\"");
    PartRun run;
    SUTRA_ASSIGN(run.index.k, get_u64(j, "part", 100000, what));
    SUTRA_ASSIGN(run.index.n, get_u64(j, "parts", 100000, what));
    if (run.index.k == 0 || run.index.k > run.index.n)
        return damaged(
            what, "part " + std::to_string(run.index.k) + " of " + std::to_string(run.index.n));
    SUTRA_ASSIGN(run.model, get_str(j, "model", what));
    SUTRA_ASSIGN(const std::string id, get_str(j, "run", what));
    const auto recs = j.find("records");
    if (recs == j.end() || !recs->is_array() || recs->size() > limits.max_records)
        return damaged(what, "\"records\" missing or too many");
    const auto ours = j.find("ours");
    if (ours == j.end() || !ours->is_array()) return damaged(what, "\"ours\" missing");
    run.ours.assign(recs->size(), false);
    size_t last = 0;
    bool first = true;
    for (const auto& i : *ours) {
        if (!i.is_number_unsigned() || i.get<uint64_t>() >= recs->size() ||
            (!first && i.get<uint64_t>() <= last))
            return damaged(what, "\"ours\" is not an increasing list of record indices");
        last = i.get<uint64_t>();
        first = false;
        run.ours[last] = true;
    }
    for (size_t i = 0; i < recs->size(); ++i) {
        SUTRA_ASSIGN(auto r, parse_record((*recs)[i], run.ours[i], what));
        run.records.push_back(std::move(r));
    }
    const auto extra = j.find("extra");
    if (extra == j.end() || !extra->is_object()) return damaged(what, "\"extra\" missing");
    run.extra = *extra;
    if (run_id(run) != id)
        return damaged(what, "its run id does not match its contents (edited or damaged)");
    // The split is the records' own: this part must hold exactly the records of part k.
    auto split = assign_parts(run.records, run.index.n);
    if (!split) return damaged(what, split.error().message);
    for (size_t i = 0; i < run.records.size(); ++i)
        if (run.ours[i] != ((*split)[i] == run.index.k))
            return damaged(what, "it does not hold the records of part " +
                                     std::to_string(run.index.k) + " of " +
                                     std::to_string(run.index.n));
    uint64_t bytes = 0;
    for (size_t i = 0; i < run.records.size(); ++i)
        if (run.ours[i])
            for (const auto& t : format::stored_tensors(run.records[i]))
                bytes += t.nbytes;
    if (file_size != 16 + len + bytes)
        return damaged(what, "it is " + std::to_string(file_size) + " bytes, its header promises " +
                                 std::to_string(16 + len + bytes) + " (truncated?)");
    *data_offset = 16 + len;
    *data_bytes = bytes;
    return run;
}

Result<PartFile> open_part_file(const std::filesystem::path& path, PartLimits limits) {
    SUTRA_ASSIGN(io::InputFile f, io::InputFile::open(path));
    const std::string what = path.string();
    std::vector<uint8_t> prefix(16);
    if (f.size() < 16) return damaged(what, "it is shorter than a part header");
    SUTRA_TRY(f.read_at(0, prefix));
    // The magic (for the clearest message on another kind of file) and the length's bound
    // (what to read) here; parse_part_header checks the rest.
    if (std::memcmp(prefix.data(), kPartMagic.data(), 8) != 0)
        return damaged(what, "it does not start with \"SUTRAPT1\"");
    const uint64_t len = header_length(prefix.data());
    if (len > limits.max_header_bytes || len > f.size() - 16)
        return damaged(what, "its header length does not fit the file (truncated?)");
    std::vector<uint8_t> head(16 + len);
    SUTRA_TRY(f.read_at(0, head));
    PartFile p;
    SUTRA_ASSIGN(p.run,
                 parse_part_header(head, f.size(), what, &p.data_offset, &p.data_bytes, limits));
    p.run_id = run_id(p.run);
    p.path = path;
    p.file = std::move(f);
    return p;
}

}  // namespace sutra::parts
