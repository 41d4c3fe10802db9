#include "sutra/io/safetensors_header.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unordered_set>

#include "sutra/base/checked.hpp"
#include "sutra/base/suggest.hpp"
#include "sutra/io/foreign_format.hpp"

namespace sutra::io {
namespace {

using json = nlohmann::json;

std::string unknown_dtype_text(const std::string& s) {
    std::string msg = "unknown dtype \"" + s + "\"";
    if (auto other = dtype_from_other_name(s)) {
        msg += "; safetensors spells it \"" + std::string(dtype_name(*other)) + "\"";
    } else {
        const std::string hint = did_you_mean(s, dtype_names());
        if (!hint.empty()) msg += "; " + hint;
    }
    msg += " (safetensors dtypes:";
    for (auto n : dtype_names())
        msg += " " + std::string(n);
    return msg + "; exact upper case)";
}

// SAX handler that builds the header directly, so memory stays proportional to the header (no
// DOM). The schema fixes the nesting of everything but the values of unknown tensor fields,
// which are skipped whatever their type, down to kMaxNesting levels.
class HeaderSax {
  public:
    std::vector<TensorEntry> tensors;
    std::vector<std::pair<std::string, std::string>> metadata;
    std::string error;

    bool null() {
        if (skipping()) return skip_scalar();
        // "__metadata__": null is no metadata, as in the reference parser.
        if (depth_ == 1 && key_ == "__metadata__") return true;
        return fail_value("null");
    }
    bool boolean(bool) { return skipping() ? skip_scalar() : fail_value("a boolean"); }
    bool number_integer(json::number_integer_t v) {
        if (skipping()) return skip_scalar();
        // The JSON library reports "-0" as a signed integer; it is the whole number 0.
        if (v == 0) return number_unsigned(0);
        if (depth_ == 3)
            return fail("tensor '" + cur_name_ + "': " + field_ + " has the negative value " +
                        std::to_string(v) + "; sizes and offsets must be >= 0");
        return fail_value("a number");
    }
    bool number_unsigned(json::number_unsigned_t v) {
        if (skipping()) return skip_scalar();
        if (depth_ == 3) {
            if (field_ == "shape") {
                cur_.shape.push_back(v);
            } else {
                if (offsets_.size() >= 2)
                    return fail("tensor '" + cur_name_ +
                                "': data_offsets must have exactly 2 entries");
                offsets_.push_back(v);
            }
            return true;
        }
        return fail_value("a number");
    }
    bool number_float(json::number_float_t, const std::string& text) {
        if (skipping()) return skip_scalar();
        if (depth_ == 3)
            return fail("tensor '" + cur_name_ + "': " + field_ + " entry " + text +
                        " is not a whole number in 0..2^64-1");
        return fail_value("a number");
    }
    bool string(std::string& s) {
        if (skipping()) return skip_scalar();
        if (depth_ == 2 && in_metadata_) {
            metadata.emplace_back(std::move(key_), std::move(s));
            return true;
        }
        if (depth_ == 2 && field_ == "dtype") {
            auto t = parse_dtype(s);
            if (!t) return fail("tensor '" + cur_name_ + "': " + unknown_dtype_text(s));
            cur_.dtype = *t;
            return true;
        }
        return fail_value("a string");
    }
    bool binary(json::binary_t&) { return fail_value("binary data"); }

    bool start_object(std::size_t) {
        if (skipping()) return skip_open();
        if (depth_ == 0) {
            depth_ = 1;
            return true;
        }
        if (depth_ == 1) {
            depth_ = 2;
            seen_.clear();
            if (key_ == "__metadata__") {
                in_metadata_ = true;
                return true;
            }
            in_metadata_ = false;
            cur_ = TensorEntry{};
            cur_.name = key_;
            cur_name_ = key_;
            offsets_.clear();
            unknown_fields_.clear();
            has_dtype_ = has_shape_ = has_offsets_ = false;
            return true;
        }
        return fail_value("an object");
    }
    bool key(std::string& k) {
        if (skip_depth_ > 0) return true;  // inside an unknown field's value
        if (depth_ == 1) {
            if (k == "__metadata__") {
                if (saw_metadata_) return fail("duplicate key \"__metadata__\"");
                saw_metadata_ = true;
            } else if (!names_.insert(k).second) {
                return fail("duplicate tensor name \"" + k + "\"");
            }
            key_ = std::move(k);
            return true;
        }
        if (depth_ == 2) {
            // Known fields and metadata keys must be unique; unknown fields, ignored, may repeat
            // (serde skips them without looking).
            const bool known = in_metadata_ || k == "dtype" || k == "shape" || k == "data_offsets";
            if (known && !seen_.insert(k).second)
                return fail(
                    (in_metadata_ ? std::string("__metadata__") : "tensor '" + cur_name_ + "'") +
                    ": duplicate key \"" + k + "\"");
            if (in_metadata_) {
                key_ = std::move(k);
                return true;
            }
            if (k == "dtype") {
                has_dtype_ = true;
            } else if (k == "shape") {
                has_shape_ = true;
            } else if (k == "data_offsets") {
                has_offsets_ = true;
            } else {
                // Ignored, as the reference parser ignores fields it does not know; named if a
                // required field turns out to be missing (a misspelling, most likely).
                if (unknown_fields_.size() < 3) unknown_fields_.push_back(k);
                unknown_value_ = true;
            }
            field_ = k;
            return true;
        }
        return fail("unexpected key");
    }
    bool end_object() {
        if (skip_depth_ > 0) return skip_close();
        if (depth_ == 2) {
            depth_ = 1;
            if (in_metadata_) {
                in_metadata_ = false;
                return true;
            }
            if (!has_dtype_ || !has_shape_ || !has_offsets_) return fail(missing_fields_text());
            if (offsets_.size() != 2)
                return fail("tensor '" + cur_name_ + "': data_offsets must have exactly 2 entries");
            cur_.begin = offsets_[0];
            cur_.end = offsets_[1];
            tensors.push_back(std::move(cur_));
            return true;
        }
        depth_ = 0;
        return true;
    }
    bool start_array(std::size_t) {
        if (skipping()) return skip_open();
        if (depth_ == 2 && !in_metadata_ && (field_ == "shape" || field_ == "data_offsets")) {
            depth_ = 3;
            return true;
        }
        return fail_value("an array");
    }
    bool end_array() {
        if (skip_depth_ > 0) return skip_close();
        depth_ = 2;
        return true;
    }
    bool parse_error(std::size_t position, const std::string&,
                     const nlohmann::detail::exception& ex) {
        if (error.empty()) {
            std::string m = ex.what();
            // nlohmann prefixes "[json.exception.parse_error.101] parse error at ..."; keep the
            // rest.
            auto p = m.find("] ");
            if (p != std::string::npos) m = m.substr(p + 2);
            error = "header is not valid JSON (byte " + std::to_string(position) + "): " + m;
        }
        return false;
    }

  private:
    bool fail(std::string msg) {
        if (error.empty()) error = std::move(msg);
        return false;
    }
    bool fail_value(const char* kind) {
        if (depth_ == 0)
            return fail("header JSON root must be an object, found " + std::string(kind));
        if (depth_ == 1) {
            if (key_ == "__metadata__")
                return fail("__metadata__ must be an object of strings (or null)");
            return fail("tensor '" + key_ + "': expected an object, found " + kind);
        }
        if (in_metadata_)
            return fail("__metadata__[\"" + key_ + "\"] must be a string, found " + kind);
        if (depth_ == 2)
            return fail("tensor '" + cur_name_ + "': field " + field_ + " has the wrong type (" +
                        kind + ")");
        return fail("tensor '" + cur_name_ + "': " + field_ +
                    " entries must be whole numbers, found " + kind);
    }

    // The value of an unknown field, and everything nested in it, is skipped.
    bool skipping() const { return unknown_value_ || skip_depth_ > 0; }
    bool skip_scalar() {
        if (skip_depth_ == 0) unknown_value_ = false;
        return true;
    }
    bool skip_open() {
        unknown_value_ = false;
        ++skip_depth_;
        // Root object and tensor entry, then the unknown field's containers.
        if (2 + skip_depth_ > kMaxNesting)
            return fail("tensor '" + cur_name_ + "': field \"" + field_ + "\" nests deeper than " +
                        std::to_string(kMaxNesting) + " levels");
        return true;
    }
    bool skip_close() {
        --skip_depth_;
        return true;
    }

    std::string missing_fields_text() const {
        std::string missing;
        for (auto [has, name] : {std::pair{has_dtype_, "dtype"}, std::pair{has_shape_, "shape"},
                                 std::pair{has_offsets_, "data_offsets"}})
            if (!has) missing += (missing.empty() ? "" : ", ") + std::string(name);
        std::string msg = "tensor '" + cur_name_ + "': missing field " + missing +
                          " (a tensor needs dtype, shape and data_offsets)";
        if (!unknown_fields_.empty()) {
            msg += "; it has the unknown field";
            for (size_t i = 0; i < unknown_fields_.size(); ++i)
                msg += (i == 0 ? " \"" : ", \"") + unknown_fields_[i] + "\"";
            const std::string hint =
                did_you_mean(unknown_fields_.front(),
                             std::vector<std::string_view>{"dtype", "shape", "data_offsets"});
            if (!hint.empty()) msg += ", " + hint;
        }
        return msg;
    }

    int depth_ = 0;
    size_t skip_depth_ = 0;       // containers open inside an unknown field's value
    bool unknown_value_ = false;  // the next value belongs to an unknown field
    bool in_metadata_ = false;
    bool saw_metadata_ = false;
    std::string key_;
    std::string field_;
    std::string cur_name_;
    TensorEntry cur_;
    std::vector<uint64_t> offsets_;
    std::vector<std::string> unknown_fields_;
    bool has_dtype_ = false, has_shape_ = false, has_offsets_ = false;
    std::unordered_set<std::string> names_;
    std::unordered_set<std::string> seen_;
};

Error header_error(const std::string& what, const std::string& msg) {
    return make_error(Errc::bad_format, what + ": invalid safetensors header: " + msg);
}

}  // namespace

Result<uint64_t> parse_header_length(std::span<const uint8_t> prefix8, uint64_t file_size,
                                     const std::string& what) {
    if (prefix8.size() < 8 || file_size < 8)
        return make_error(
            Errc::bad_format,
            what + ": file is " + std::to_string(file_size) +
                " bytes, too short for a safetensors file (needs an 8-byte header length)");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i)
        n = (n << 8) | prefix8[static_cast<size_t>(i)];
    if (n < 2)
        return make_error(Errc::bad_format,
                          what + ": header length is " + std::to_string(n) +
                              ", too small for a JSON object; not a safetensors file");
    if (n > kMaxHeaderBytes)
        return make_error(Errc::too_large, what + ": header length " + std::to_string(n) +
                                               " exceeds the limit of " +
                                               std::to_string(kMaxHeaderBytes) +
                                               " bytes; not a safetensors file, or a damaged one");
    if (n > file_size - 8)
        return make_error(Errc::bad_format,
                          what + ": header length " + std::to_string(n) +
                              " runs past the end of the file (" + std::to_string(file_size) +
                              " bytes); the file is truncated or not a safetensors file");
    return n;
}

Result<SafetensorsHeader> parse_safetensors_header(std::span<const uint8_t> bytes,
                                                   uint64_t data_len, const std::string& what) {
    // The JSON must begin with '{' after optional spaces: this refuses byte-order marks, which
    // the JSON library would otherwise skip silently.
    size_t first = 0;
    while (first < bytes.size() && (bytes[first] == ' ' || bytes[first] == '\t' ||
                                    bytes[first] == '\n' || bytes[first] == '\r'))
        ++first;
    if (first == bytes.size() || bytes[first] != '{')
        return header_error(what, "the JSON header must begin with '{'" +
                                      std::string(first < bytes.size() && bytes[first] == 0xEF
                                                      ? " (found a UTF-8 byte-order mark)"
                                                      : ""));

    // The JSON library treats a NUL byte as the end of input; valid JSON never contains one.
    for (size_t i = 0; i < bytes.size(); ++i)
        if (bytes[i] == 0)
            return header_error(what, "NUL byte at header offset " + std::to_string(i) +
                                          " (pad a header with spaces, not NUL)");
    HeaderSax sax;
    bool ok = false;
    try {
        ok = json::sax_parse(bytes.begin(), bytes.end(), &sax, json::input_format_t::json, true);
    } catch (const std::exception& e) {
        if (sax.error.empty()) sax.error = std::string("header is not valid JSON: ") + e.what();
        ok = false;
    }
    if (!ok) return header_error(what, sax.error.empty() ? "header is not valid JSON" : sax.error);

    SafetensorsHeader h;
    h.header_len = bytes.size();
    h.data_start = 8 + bytes.size();
    h.data_len = data_len;
    h.metadata = std::move(sax.metadata);
    h.tensors = std::move(sax.tensors);

    for (auto& t : h.tensors) {
        auto numel = checked_product(t.shape);
        if (!numel)
            return header_error(what, "tensor '" + t.name + "': shape product overflows 64 bits");
        auto nbytes = dtype_nbytes(t.dtype, *numel);
        if (!nbytes) {
            const uint32_t bits = dtype_bits(t.dtype);
            if (bits % 8 != 0 && checked_mul(*numel, bits))
                return header_error(what, "tensor '" + t.name + "': " + std::to_string(*numel) +
                                              " " + std::string(dtype_name(t.dtype)) +
                                              " values of " + std::to_string(bits) +
                                              " bits are not a whole number of bytes");
            return header_error(what, "tensor '" + t.name + "': byte size overflows 64 bits");
        }
        t.numel = *numel;
        if (t.end < t.begin)
            return header_error(what, "tensor '" + t.name + "': data_offsets end " +
                                          std::to_string(t.end) + " is before begin " +
                                          std::to_string(t.begin));
        if (t.end - t.begin != *nbytes)
            return header_error(what, "tensor '" + t.name + "': data_offsets [" +
                                          std::to_string(t.begin) + ", " + std::to_string(t.end) +
                                          ") hold " + std::to_string(t.end - t.begin) +
                                          " bytes but dtype " + std::string(dtype_name(t.dtype)) +
                                          " and its shape need " + std::to_string(*nbytes));
        if (t.end > data_len)
            return header_error(what, "tensor '" + t.name + "': data_offsets end " +
                                          std::to_string(t.end) + " is past the data length " +
                                          std::to_string(data_len));
    }

    // Sorted by offset the tensors must tile [0, data_len) exactly.
    std::vector<size_t> order(h.tensors.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        const auto& x = h.tensors[a];
        const auto& y = h.tensors[b];
        return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
    });
    uint64_t pos = 0;
    for (size_t i : order) {
        const auto& t = h.tensors[i];
        if (t.begin > pos)
            return header_error(what, "gap of " + std::to_string(t.begin - pos) +
                                          " bytes before tensor '" + t.name + "' (data offset " +
                                          std::to_string(pos) + ")");
        if (t.begin < pos)
            return header_error(what, "tensor '" + t.name +
                                          "' overlaps the previous tensor (begins at " +
                                          std::to_string(t.begin) + ", previous ends at " +
                                          std::to_string(pos) + ")");
        pos = t.end;
    }
    if (pos != data_len)
        return header_error(what, std::to_string(data_len - pos) +
                                      " trailing bytes after the last tensor (tensors end at " +
                                      std::to_string(pos) + ", data is " +
                                      std::to_string(data_len) + " bytes)");
    return h;
}

Result<SafetensorsHeader> parse_safetensors_bytes(std::span<const uint8_t> file,
                                                  const std::string& what) {
    auto h = [&]() -> Result<SafetensorsHeader> {
        SUTRA_ASSIGN(uint64_t n, parse_header_length(file.first(std::min<size_t>(8, file.size())),
                                                     file.size(), what));
        return parse_safetensors_header(file.subspan(8, n), file.size() - 8 - n, what);
    }();
    if (h.ok()) return h;
    return name_foreign_format(h.take_error(), file, file.size(), what);
}

}  // namespace sutra::io
