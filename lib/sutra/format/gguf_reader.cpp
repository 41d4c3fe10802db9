#include "sutra/format/gguf_reader.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "sutra/base/checked.hpp"
#include "sutra/io/file.hpp"
#include "sutra/quant/ggml_types.hpp"

namespace sutra::format {

const GgufTensorInfo* GgufHeader::find_tensor(std::string_view name) const {
    for (const auto& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

namespace {

// Little-endian reads over the header bytes. A read past the end sets `truncated` (the
// caller may retry with more bytes) and yields an error naming the offset.
class Cursor {
  public:
    Cursor(std::span<const uint8_t> b, const std::string& what) : b_(b), what_(what) {}

    uint64_t pos() const { return pos_; }
    uint64_t left() const { return b_.size() - pos_; }
    bool truncated = false;

    Error fail(const std::string& msg) const {
        return make_error(Errc::bad_format,
                          what_ + ": GGUF header at byte " + std::to_string(pos_) + ": " + msg);
    }
    Error fail_at(uint64_t at, Errc code, const std::string& msg) const {
        return make_error(code, what_ + ": GGUF header at byte " + std::to_string(at) + ": " + msg);
    }
    Error short_read(uint64_t need, const std::string& of) {
        truncated = true;
        return fail("the file ends inside " + of + " (" + std::to_string(need) + " bytes needed, " +
                    std::to_string(left()) + " left); truncated file?");
    }

    Status need(uint64_t n, const std::string& of) {
        if (n > left()) return short_read(n, of);
        return {};
    }
    template <class T>
    bool get(T& out) {
        if (sizeof(T) > left()) return false;
        std::memcpy(&out, b_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return true;
    }
    template <class T>
    Result<T> read(const std::string& of) {
        SUTRA_TRY(need(sizeof(T), of));
        T v;
        std::memcpy(&v, b_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    // A string; messages call it "the <kind> <name>".
    Result<std::string> read_string(uint64_t max_len, const char* kind, const std::string& name) {
        const uint64_t at = pos_;
        const auto of = [&] { return std::string("the ") + kind + " " + name; };
        uint64_t len = 0;
        if (!get(len)) return short_read(8, "the length of " + of());
        if (len > max_len)
            return fail_at(at, Errc::too_large,
                           of() + " is " + std::to_string(len) + " bytes long, more than the " +
                               std::to_string(max_len) + " allowed");
        if (len > left()) return short_read(len, of());
        std::string s(reinterpret_cast<const char*>(b_.data() + pos_), static_cast<size_t>(len));
        pos_ += len;
        return s;
    }

  private:
    std::span<const uint8_t> b_;
    const std::string& what_;
    uint64_t pos_ = 0;
};

class Parser {
  public:
    Parser(std::span<const uint8_t> b, const std::string& what) : c(b, what) {}
    Cursor c;
    uint64_t items_left = kMaxGgufArrayItems;

    Result<GgufType> read_type(const std::string& key, bool in_array) {
        const uint64_t at = c.pos();
        SUTRA_ASSIGN(uint32_t t, c.read<uint32_t>("the value type of key '" + key + "'"));
        if (t >= kGgufTypeCount)
            return c.fail_at(at, Errc::bad_format,
                             "key '" + key + "': unknown " +
                                 (in_array ? std::string("array element") : std::string("value")) +
                                 " type " + std::to_string(t) + " (GGUF types are 0..12)");
        return static_cast<GgufType>(t);
    }

    template <class T>
    Status scalar(T& out, const std::string& key) {
        if (!c.get(out)) return c.short_read(sizeof(T), "the value of key '" + key + "'");
        return {};
    }

    Result<GgufValue> read_value(GgufType type, const std::string& key, uint32_t depth) {
        GgufValue v;
        v.type = type;
        switch (type) {
            case GgufType::u8: {
                uint8_t x = 0;
                SUTRA_TRY(scalar(x, key));
                v.u = x;
                break;
            }
            case GgufType::i8: {
                int8_t x = 0;
                SUTRA_TRY(scalar(x, key));
                v.i = x;
                break;
            }
            case GgufType::u16: {
                uint16_t x = 0;
                SUTRA_TRY(scalar(x, key));
                v.u = x;
                break;
            }
            case GgufType::i16: {
                int16_t x = 0;
                SUTRA_TRY(scalar(x, key));
                v.i = x;
                break;
            }
            case GgufType::u32: {
                uint32_t x = 0;
                SUTRA_TRY(scalar(x, key));
                v.u = x;
                break;
            }
            case GgufType::i32: {
                int32_t x = 0;
                SUTRA_TRY(scalar(x, key));
                v.i = x;
                break;
            }
            case GgufType::f32: {
                float x = 0;
                SUTRA_TRY(scalar(x, key));
                v.f = static_cast<double>(x);
                break;
            }
            case GgufType::boolean: {
                const uint64_t at = c.pos();
                uint8_t x = 0;
                SUTRA_TRY(scalar(x, key));
                if (x > 1)
                    return c.fail_at(
                        at, Errc::bad_format,
                        "key '" + key + "': a bool must be 0 or 1, not " + std::to_string(x));
                v.u = x;
                break;
            }
            case GgufType::string: {
                SUTRA_ASSIGN(v.s, c.read_string(kMaxGgufStringBytes, "string value of key", key));
                break;
            }
            case GgufType::u64: {
                SUTRA_TRY(scalar(v.u, key));
                break;
            }
            case GgufType::i64: {
                SUTRA_TRY(scalar(v.i, key));
                break;
            }
            case GgufType::f64: {
                SUTRA_TRY(scalar(v.f, key));
                break;
            }
            case GgufType::array: {
                const uint64_t at = c.pos();
                if (depth >= kMaxGgufArrayDepth)
                    return c.fail_at(at, Errc::too_large,
                                     "key '" + key + "': arrays nested deeper than " +
                                         std::to_string(kMaxGgufArrayDepth) + " levels");
                SUTRA_ASSIGN(v.elem, read_type(key, true));
                const uint64_t count_at = c.pos();
                SUTRA_ASSIGN(uint64_t n, c.read<uint64_t>("the length of array '" + key + "'"));
                // Every element takes at least one byte (a string or array at least 8 or 12):
                // a count the remaining bytes cannot hold is refused before any allocation.
                uint64_t min_size = gguf_scalar_size(v.elem);
                if (v.elem == GgufType::string) min_size = 8;
                if (v.elem == GgufType::array) min_size = 12;
                if (n > items_left)
                    return c.fail_at(count_at, Errc::too_large,
                                     "key '" + key + "': array of " + std::to_string(n) +
                                         " items; at most " + std::to_string(kMaxGgufArrayItems) +
                                         " array items in all are allowed in one file");
                if (n > c.left() / min_size) {
                    c.truncated = true;
                    return c.fail_at(count_at, Errc::bad_format,
                                     "key '" + key + "': array of " + std::to_string(n) + " " +
                                         gguf_type_name(v.elem) + " items does not fit in the " +
                                         std::to_string(c.left()) + " bytes left");
                }
                items_left -= n;
                v.items.reserve(static_cast<size_t>(n));
                for (uint64_t k = 0; k < n; ++k) {
                    SUTRA_ASSIGN(GgufValue item, read_value(v.elem, key, depth + 1));
                    v.items.push_back(std::move(item));
                }
                break;
            }
        }
        return v;
    }
};

Result<GgufHeader> parse(std::span<const uint8_t> bytes, uint64_t file_size,
                         const std::string& what, bool* truncated) {
    Parser p(bytes, what);
    Cursor& c = p.c;
    auto done = [&](Error e) -> Result<GgufHeader> {
        if (truncated) *truncated = c.truncated;
        return e;
    };
#define GGUF_TRY_ASSIGN(decl, expr)                                                               \
    auto SUTRA_CONCAT_(g_, __LINE__) = (expr);                                                    \
    if (!SUTRA_CONCAT_(g_, __LINE__).ok()) return done(SUTRA_CONCAT_(g_, __LINE__).take_error()); \
    decl = std::move(SUTRA_CONCAT_(g_, __LINE__)).value()

    GgufHeader h;
    if (bytes.size() < 4) {
        c.truncated = bytes.size() < file_size;
        return done(c.fail("the file is " + std::to_string(bytes.size()) +
                           " bytes long, too short for a GGUF header"));
    }
    if (std::memcmp(bytes.data(), "GGUF", 4) != 0)
        return done(c.fail("not a GGUF file (the first 4 bytes are not \"GGUF\")"));
    GGUF_TRY_ASSIGN(uint32_t magic, c.read<uint32_t>("the magic"));
    (void)magic;
    GGUF_TRY_ASSIGN(h.version, c.read<uint32_t>("the version"));
    if (h.version != 2 && h.version != 3)
        return done(c.fail_at(4, Errc::unsupported,
                              "GGUF version " + std::to_string(h.version) +
                                  " is not supported (versions 2 and 3 are)"));
    GGUF_TRY_ASSIGN(uint64_t n_tensors, c.read<uint64_t>("the tensor count"));
    GGUF_TRY_ASSIGN(uint64_t n_kv, c.read<uint64_t>("the key count"));
    if (n_tensors > kMaxGgufTensors)
        return done(c.fail_at(8, Errc::too_large,
                              "tensor count " + std::to_string(n_tensors) + " is more than the " +
                                  std::to_string(kMaxGgufTensors) + " allowed"));
    if (n_kv > kMaxGgufKeys)
        return done(c.fail_at(16, Errc::too_large,
                              "key count " + std::to_string(n_kv) + " is more than the " +
                                  std::to_string(kMaxGgufKeys) + " allowed"));
    // A key takes at least 8 + 1 + 4 + 1 bytes, a tensor info 8 + 1 + 4 + 8 + 4 + 8.
    if (n_kv > c.left() / 14 || n_tensors > c.left() / 33) {
        c.truncated = true;
        return done(c.fail(std::to_string(n_kv) + " keys and " + std::to_string(n_tensors) +
                           " tensors do not fit in the " + std::to_string(c.left()) +
                           " bytes left; truncated file?"));
    }

    std::unordered_set<std::string> keys;
    h.metadata.reserve(static_cast<size_t>(n_kv));
    for (uint64_t k = 0; k < n_kv; ++k) {
        const uint64_t at = c.pos();
        GGUF_TRY_ASSIGN(std::string key,
                        c.read_string(kMaxGgufKeyBytes, "name of key", "#" + std::to_string(k)));
        if (key.empty())
            return done(c.fail_at(at, Errc::bad_format, "key " + std::to_string(k) + " is empty"));
        if (!keys.insert(key).second)
            return done(c.fail_at(at, Errc::bad_format, "duplicate key '" + key + "'"));
        GGUF_TRY_ASSIGN(GgufType type, p.read_type(key, false));
        GGUF_TRY_ASSIGN(GgufValue v, p.read_value(type, key, 0));
        if (key == "general.alignment") {
            if (v.type != GgufType::u32)
                return done(c.fail_at(
                    at, Errc::bad_format,
                    "general.alignment must be a u32, not " + std::string(gguf_type_name(v.type))));
            if (v.u == 0 || (v.u & (v.u - 1)) != 0 || v.u > kMaxGgufAlignment)
                return done(c.fail_at(at, Errc::bad_format,
                                      "general.alignment " + std::to_string(v.u) +
                                          " is not a power of two in 1.." +
                                          std::to_string(kMaxGgufAlignment)));
            h.alignment = v.u;
        }
        h.metadata.emplace_back(std::move(key), std::move(v));
    }

    std::unordered_set<std::string> names;
    h.tensors.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t k = 0; k < n_tensors; ++k) {
        const uint64_t at = c.pos();
        GgufTensorInfo t;
        GGUF_TRY_ASSIGN(t.name,
                        c.read_string(kMaxGgufKeyBytes, "name of tensor", "#" + std::to_string(k)));
        const std::string tn = "tensor '" + t.name + "'";
        if (t.name.empty())
            return done(c.fail_at(at, Errc::bad_format,
                                  "the name of tensor " + std::to_string(k) + " is empty"));
        if (t.name.size() > kGgufMaxNameBytes)
            return done(c.fail_at(at, Errc::bad_format,
                                  tn + ": the name is " + std::to_string(t.name.size()) +
                                      " bytes long; llama.cpp allows at most 63"));
        if (!names.insert(t.name).second)
            return done(c.fail_at(at, Errc::bad_format, "duplicate tensor name '" + t.name + "'"));
        const uint64_t dims_at = c.pos();
        GGUF_TRY_ASSIGN(uint32_t n_dims, c.read<uint32_t>("the rank of " + tn));
        if (n_dims < 1 || n_dims > 4)
            return done(c.fail_at(
                dims_at, Errc::bad_format,
                tn + " has " + std::to_string(n_dims) + " dimensions; GGUF tensors have 1 to 4"));
        uint64_t numel = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            GGUF_TRY_ASSIGN(uint64_t dim, c.read<uint64_t>("the dimensions of " + tn));
            if (dim == 0)
                return done(c.fail_at(dims_at, Errc::bad_format,
                                      tn + ": dimension " + std::to_string(d) + " is 0"));
            auto m = checked_mul(numel, dim);
            if (!m || *m > (uint64_t{1} << 63) - 1)
                return done(c.fail_at(dims_at, Errc::bad_format,
                                      tn + ": the element count overflows (dimension " +
                                          std::to_string(d) + " is " + std::to_string(dim) + ")"));
            numel = *m;
            t.dims.push_back(dim);
        }
        t.numel = numel;
        const uint64_t type_at = c.pos();
        GGUF_TRY_ASSIGN(t.type_id, c.read<uint32_t>("the type of " + tn));
        const quant::GgmlTypeInfo* ti = quant::find_ggml_type(t.type_id);
        if (!ti)
            return done(c.fail_at(type_at, Errc::unsupported,
                                  tn + " has ggml type " + std::to_string(t.type_id) +
                                      ", which sutra does not read (it reads F32, F16, Q4_0, "
                                      "Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K)"));
        if (t.dims[0] % ti->block_elems != 0)
            return done(c.fail_at(dims_at, Errc::bad_format,
                                  tn + ": rows of " + std::to_string(t.dims[0]) +
                                      " values are not whole " + ti->name + " blocks of " +
                                      std::to_string(ti->block_elems)));
        auto row_bytes = checked_mul(t.dims[0] / ti->block_elems, ti->block_bytes);
        auto nbytes = row_bytes ? checked_mul(*row_bytes, numel / t.dims[0]) : std::nullopt;
        if (!nbytes)
            return done(c.fail_at(dims_at, Errc::bad_format, tn + ": the byte size overflows"));
        t.nbytes = *nbytes;
        const uint64_t off_at = c.pos();
        GGUF_TRY_ASSIGN(t.offset, c.read<uint64_t>("the offset of " + tn));
        if (t.offset % h.alignment != 0)
            return done(c.fail_at(off_at, Errc::bad_format,
                                  tn + ": offset " + std::to_string(t.offset) +
                                      " is not a multiple of the alignment " +
                                      std::to_string(h.alignment)));
        if (!checked_add(t.offset, t.nbytes))
            return done(c.fail_at(off_at, Errc::bad_format, tn + ": offset + size overflows"));
        h.tensors.push_back(std::move(t));
    }
    h.header_end = c.pos();
    h.data_start = (h.header_end + h.alignment - 1) / h.alignment * h.alignment;

    if (file_size > 0) {
        if (h.data_start > file_size && !h.tensors.empty())
            return done(c.fail("the data section would start at byte " +
                               std::to_string(h.data_start) + ", past the end of the file (" +
                               std::to_string(file_size) + " bytes)"));
        const uint64_t data_len = file_size > h.data_start ? file_size - h.data_start : 0;
        for (const auto& t : h.tensors)
            if (t.offset + t.nbytes > data_len)
                return done(make_error(
                    Errc::bad_format,
                    what + ": tensor '" + t.name + "': data [" + std::to_string(t.offset) + ", " +
                        std::to_string(t.offset + t.nbytes) + ") runs past the end of the data (" +
                        std::to_string(data_len) + " bytes after byte " +
                        std::to_string(h.data_start) + "); truncated file?"));
    }
    std::vector<size_t> order(h.tensors.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return h.tensors[a].offset < h.tensors[b].offset; });
    for (size_t i = 1; i < order.size(); ++i) {
        const auto& a = h.tensors[order[i - 1]];
        const auto& b = h.tensors[order[i]];
        if (a.offset + a.nbytes > b.offset)
            return done(make_error(
                Errc::bad_format, what + ": tensors '" + a.name + "' [" + std::to_string(a.offset) +
                                      ", " + std::to_string(a.offset + a.nbytes) + ") and '" +
                                      b.name + "' [" + std::to_string(b.offset) + ", " +
                                      std::to_string(b.offset + b.nbytes) + ") overlap"));
    }
#undef GGUF_TRY_ASSIGN
    if (truncated) *truncated = false;
    return h;
}

}  // namespace

Result<GgufHeader> parse_gguf_header(std::span<const uint8_t> bytes, uint64_t file_size,
                                     const std::string& what) {
    return parse(bytes, file_size, what, nullptr);
}

Result<GgufHeader> read_gguf_header(const std::filesystem::path& path) {
    SUTRA_ASSIGN(io::InputFile f, io::InputFile::open(path));
    const std::string what = path.string();
    uint64_t want = std::min<uint64_t>(f.size(), uint64_t{1} << 20);
    std::vector<uint8_t> buf;
    for (;;) {
        buf.resize(static_cast<size_t>(want));
        SUTRA_TRY(f.read_at(0, buf));
        bool truncated = false;
        auto r = parse(buf, f.size(), what, &truncated);
        if (r.ok() || !truncated || want >= f.size()) return r;
        if (want >= kMaxGgufHeaderBytes)
            return make_error(Errc::too_large, what + ": the GGUF header is longer than " +
                                                   std::to_string(kMaxGgufHeaderBytes >> 20) +
                                                   " MiB, more than sutra reads");
        want = std::min({f.size(), want * 2, kMaxGgufHeaderBytes});
    }
}

}  // namespace sutra::format
