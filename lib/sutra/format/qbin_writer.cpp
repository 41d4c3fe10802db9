#include "sutra/format/qbin_writer.hpp"

namespace sutra::format {
namespace {

std::span<const uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The header with its checksum digits filled in.
Result<std::string> sealed_header(std::string header) {
    const std::string prefix = io::header_length_prefix(header.size());
    size_t at = 0;
    SUTRA_ASSIGN(uint64_t sum, header_checksum(prefix, header, &at));
    header.replace(at, 16, hex64(sum));
    return prefix + header;
}

}  // namespace

uint64_t QbinWriter::file_size_for(const std::vector<QbinRecord>& records,
                                   const nlohmann::ordered_json& extra) {
    uint64_t n = 8 + build_qbin_header(records, extra).size();
    for (const auto& r : records)
        for (const auto& t : stored_tensors(r))
            n += t.nbytes;
    return n;
}

void QbinWriter::lay_out(uint64_t offset) {
    parts_.clear();
    for (size_t i = 0; i < records_.size(); ++i) {
        QbinRecord& r = records_[i];
        r.xxh3.assign(r.stored.size(), 0);
        std::vector<Part> ps;
        if (only_.empty() || only_[i]) {
            for (const auto& t : stored_tensors(r)) {
                Part p;
                p.offset = offset;
                p.size = t.nbytes;
                offset += t.nbytes;
                ps.push_back(std::move(p));
            }
        }
        parts_.push_back(std::move(ps));
    }
    file_size_ = offset;
}

Result<QbinWriter> QbinWriter::begin(io::OutputFile out, std::vector<QbinRecord> records,
                                     nlohmann::ordered_json extra) {
    QbinWriter w;
    w.out_ = std::move(out);
    w.records_ = std::move(records);
    w.extra_ = std::move(extra);
    const std::string header = build_qbin_header(w.records_, w.extra_);
    w.header_len_ = header.size();
    w.lay_out(8 + header.size());
    // A provisional header (checksums zero): the file is a valid safetensors file throughout.
    SUTRA_ASSIGN(std::string first, sealed_header(header));
    SUTRA_TRY(w.out_.write_at(0, bytes_of(first)));
    return w;
}

Result<QbinWriter> QbinWriter::begin_part(io::OutputFile out, std::vector<QbinRecord> records,
                                          std::vector<bool> only, HeaderFn header_for) {
    if (only.size() != records.size())
        return make_error(Errc::internal, "part writer: a flag per record expected");
    QbinWriter w;
    w.out_ = std::move(out);
    w.records_ = std::move(records);
    w.only_ = std::move(only);
    w.part_header_ = std::move(header_for);
    for (auto& r : w.records_)
        r.xxh3.assign(r.stored.size(), 0);
    const std::string header = w.part_header_(w.records_);
    w.header_len_ = header.size();
    w.lay_out(header.size());
    SUTRA_TRY(w.out_.write_at(0, bytes_of(header)));
    return w;
}

Status QbinWriter::append(size_t record, size_t part, std::span<const uint8_t> bytes) {
    if (record >= parts_.size() || part >= parts_[record].size())
        return make_error(Errc::internal,
                          "tensor '" + (record < records_.size() ? records_[record].name : "?") +
                              "' is not one this writer writes");
    Part& p = parts_[record][part];
    if (bytes.size() > p.size - p.written)
        return make_error(Errc::internal, "tensor '" + records_[record].stored[part] +
                                              "': more bytes than planned");
    SUTRA_TRY(out_.write_at(p.offset + p.written, bytes));
    p.hash.update(bytes);
    p.written += bytes.size();
    return {};
}

Status QbinWriter::finish() {
    for (size_t r = 0; r < records_.size(); ++r) {
        for (size_t k = 0; k < parts_[r].size(); ++k) {
            const Part& p = parts_[r][k];
            if (p.written != p.size)
                return make_error(Errc::internal, "tensor '" + records_[r].stored[k] + "': wrote " +
                                                      std::to_string(p.written) + " of " +
                                                      std::to_string(p.size) + " bytes");
            records_[r].xxh3[k] = p.hash.digest();
        }
    }
    if (part_header_) {
        const std::string header = part_header_(records_);
        if (header.size() != header_len_)
            return make_error(Errc::internal, "the final part header changed length");
        SUTRA_TRY(out_.write_at(0, bytes_of(header)));
        return out_.commit();
    }
    const std::string header = build_qbin_header(records_, extra_);
    if (header.size() != header_len_)
        return make_error(Errc::internal, "the final .qbin header changed length");
    SUTRA_ASSIGN(std::string sealed, sealed_header(header));
    SUTRA_TRY(out_.write_at(0, bytes_of(sealed)));
    return out_.commit();
}

}  // namespace sutra::format
