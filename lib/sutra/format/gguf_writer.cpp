#include "sutra/format/gguf_writer.hpp"

#include <cstring>
#include <unordered_set>

#include "sutra/base/checked.hpp"
#include "sutra/format/gguf_reader.hpp"

namespace sutra::format {
namespace {

class Bytes {
  public:
    std::vector<uint8_t> b;
    template <class T>
    void put(T v) {
        const size_t at = b.size();
        b.resize(at + sizeof(T));
        std::memcpy(b.data() + at, &v, sizeof(T));
    }
    void put_string(const std::string& s) {
        put<uint64_t>(s.size());
        const size_t at = b.size();
        b.resize(at + s.size());
        if (!s.empty()) std::memcpy(b.data() + at, s.data(), s.size());
    }
};

Error bad(const std::string& msg) {
    return make_error(Errc::invalid_argument, "GGUF writer: " + msg);
}

Status put_value(Bytes& out, const GgufValue& v, const std::string& key, bool in_array) {
    switch (v.type) {
        case GgufType::u8:
            out.put(static_cast<uint8_t>(v.u));
            break;
        case GgufType::i8:
            out.put(static_cast<int8_t>(v.i));
            break;
        case GgufType::u16:
            out.put(static_cast<uint16_t>(v.u));
            break;
        case GgufType::i16:
            out.put(static_cast<int16_t>(v.i));
            break;
        case GgufType::u32:
            out.put(static_cast<uint32_t>(v.u));
            break;
        case GgufType::i32:
            out.put(static_cast<int32_t>(v.i));
            break;
        case GgufType::f32:
            out.put(static_cast<float>(v.f));
            break;
        case GgufType::boolean:
            out.put(static_cast<uint8_t>(v.u != 0 ? 1 : 0));
            break;
        case GgufType::string:
            out.put_string(v.s);
            break;
        case GgufType::u64:
            out.put(v.u);
            break;
        case GgufType::i64:
            out.put(v.i);
            break;
        case GgufType::f64:
            out.put(v.f);
            break;
        case GgufType::array:
            if (in_array) return bad("key '" + key + "': arrays of arrays are not written");
            out.put(static_cast<uint32_t>(v.elem));
            out.put<uint64_t>(v.items.size());
            for (const auto& item : v.items) {
                if (item.type != v.elem)
                    return bad("key '" + key + "': an item of type " + gguf_type_name(item.type) +
                               " in an array of " + gguf_type_name(v.elem));
                SUTRA_TRY(put_value(out, item, key, true));
            }
            break;
        default:
            return bad("key '" + key + "': unknown value type");
    }
    return {};
}

uint64_t align_up(uint64_t x) {
    return (x + kGgufWriteAlignment - 1) / kGgufWriteAlignment * kGgufWriteAlignment;
}

}  // namespace

Result<GgufLayout> layout_gguf(const GgufMetadata& metadata,
                               const std::vector<GgufTensorSpec>& tensors) {
    Bytes out;
    out.put<uint32_t>(0x46554747u);  // "GGUF" little-endian
    out.put<uint32_t>(3);
    out.put<uint64_t>(tensors.size());
    out.put<uint64_t>(metadata.size());
    std::unordered_set<std::string> keys;
    for (const auto& [key, v] : metadata) {
        if (key.empty()) return bad("an empty key");
        if (!keys.insert(key).second) return bad("duplicate key '" + key + "'");
        if (key == "general.alignment")
            return bad("general.alignment is set by the writer (tensors are 32-byte aligned)");
        out.put_string(key);
        out.put(static_cast<uint32_t>(v.type));
        SUTRA_TRY(put_value(out, v, key, false));
    }
    GgufLayout lay;
    std::unordered_set<std::string> names;
    uint64_t pos = 0;
    for (const auto& t : tensors) {
        if (t.name.empty() || t.name.size() > kGgufMaxNameBytes)
            return bad("tensor name '" + t.name + "' must be 1 to 63 bytes long");
        if (!names.insert(t.name).second) return bad("duplicate tensor name '" + t.name + "'");
        if (t.dims.empty() || t.dims.size() > 4)
            return bad("tensor '" + t.name + "' must have 1 to 4 dimensions");
        uint64_t rows = 1;
        for (uint64_t d : t.dims) {
            auto m = d == 0 ? std::nullopt : checked_mul(rows, d);
            if (!m) return bad("tensor '" + t.name + "': a dimension is 0 or the size overflows");
            rows = *m;
        }
        rows /= t.dims[0];
        if (!quant::ggml_row_fits(t.type, t.dims[0]))
            return bad("tensor '" + t.name + "': rows of " + std::to_string(t.dims[0]) +
                       " values are not whole " + quant::ggml_type_info(t.type).name + " blocks");
        auto n = checked_mul(quant::ggml_row_bytes(t.type, t.dims[0]), rows);
        if (!n) return bad("tensor '" + t.name + "': the byte size overflows");
        out.put_string(t.name);
        out.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
        for (uint64_t d : t.dims)
            out.put<uint64_t>(d);
        out.put(static_cast<uint32_t>(t.type));
        out.put<uint64_t>(pos);
        lay.offsets.push_back(pos);
        lay.nbytes.push_back(*n);
        pos = align_up(pos + *n);
    }
    out.b.resize(static_cast<size_t>(align_up(out.b.size())), 0);
    lay.data_start = out.b.size();
    lay.file_size = lay.data_start + pos;
    lay.header = std::move(out.b);
    return lay;
}

Result<GgufWriter> GgufWriter::begin(io::OutputFile out, const GgufMetadata& metadata,
                                     std::vector<GgufTensorSpec> tensors) {
    SUTRA_ASSIGN(GgufLayout lay, layout_gguf(metadata, tensors));
    SUTRA_TRY(out.write_at(0, lay.header));
    GgufWriter w;
    w.out_ = std::move(out);
    w.tensors_ = std::move(tensors);
    w.written_.assign(w.tensors_.size(), 0);
    w.layout_ = std::move(lay);
    return w;
}

Status GgufWriter::append(size_t index, std::span<const uint8_t> bytes) {
    if (index >= tensors_.size() || bytes.size() > layout_.nbytes[index] - written_[index])
        return make_error(Errc::internal,
                          "GGUF writer: too many bytes for tensor " + std::to_string(index));
    SUTRA_TRY(out_.write_at(layout_.data_start + layout_.offsets[index] + written_[index], bytes));
    written_[index] += bytes.size();
    return {};
}

Status GgufWriter::finish() {
    static const uint8_t zeros[kGgufWriteAlignment] = {};
    for (size_t i = 0; i < tensors_.size(); ++i) {
        if (written_[i] != layout_.nbytes[i])
            return make_error(Errc::internal, "GGUF writer: tensor '" + tensors_[i].name +
                                                  "' has " + std::to_string(written_[i]) +
                                                  " of its " + std::to_string(layout_.nbytes[i]) +
                                                  " bytes");
        const uint64_t end = layout_.offsets[i] + layout_.nbytes[i];
        const uint64_t pad = align_up(end) - end;
        if (pad > 0)
            SUTRA_TRY(out_.write_at(layout_.data_start + end,
                                    std::span<const uint8_t>(zeros, static_cast<size_t>(pad))));
    }
    return out_.commit();
}

}  // namespace sutra::format
