#include "sutra/io/strict_json.hpp"

#include <set>
#include <vector>

#include "sutra/io/file.hpp"

namespace sutra::io {

using json = nlohmann::json;

namespace {

// Builds the DOM from SAX events with an explicit stack (no recursion).
template <class json>
class DomSax {
  public:
    explicit DomSax(int max_depth) : max_depth_(max_depth) {}

    json root;
    std::string error;

    bool null() { return put(json(nullptr)); }
    bool boolean(bool v) { return put(json(v)); }
    bool number_integer(typename json::number_integer_t v) { return put(json(v)); }
    bool number_unsigned(typename json::number_unsigned_t v) { return put(json(v)); }
    bool number_float(typename json::number_float_t v, const std::string&) { return put(json(v)); }
    bool string(std::string& s) { return put(json(std::move(s))); }
    bool binary(typename json::binary_t&) { return fail("binary values are not JSON"); }
    bool start_object(std::size_t) { return open(json::object()); }
    bool start_array(std::size_t) { return open(json::array()); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }
    bool key(std::string& k) {
        auto& keys = frames_.back().keys;
        if (!keys.insert(k).second) return fail("duplicate key \"" + k + "\"");
        frames_.back().key = std::move(k);
        return true;
    }
    bool parse_error(std::size_t position, const std::string&,
                     const nlohmann::detail::exception& ex) {
        std::string m = ex.what();
        auto p = m.find("] ");
        if (p != std::string::npos) m = m.substr(p + 2);
        return fail("not valid JSON (byte " + std::to_string(position) + "): " + m);
    }

  private:
    struct Frame {
        json value;
        std::string key;
        std::set<std::string> keys;
    };
    bool fail(std::string m) {
        if (error.empty()) error = std::move(m);
        return false;
    }
    bool put(json v) {
        if (frames_.empty()) {
            root = std::move(v);
            return true;
        }
        auto& f = frames_.back();
        if (f.value.is_object())
            f.value[f.key] = std::move(v);
        else
            f.value.push_back(std::move(v));
        return true;
    }
    bool open(json v) {
        if (static_cast<int>(frames_.size()) >= max_depth_)
            return fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
        frames_.push_back(Frame{std::move(v), {}, {}});
        return true;
    }
    bool close() {
        json v = std::move(frames_.back().value);
        frames_.pop_back();
        return put(std::move(v));
    }

    int max_depth_;
    std::vector<Frame> frames_;
};

template <class J>
Result<J> parse_strict_impl(std::string_view text, const std::string& what,
                            StrictJsonLimits limits) {
    if (text.size() > limits.max_bytes)
        return make_error(Errc::too_large, what + ": " + std::to_string(text.size()) +
                                               " bytes exceeds the limit of " +
                                               std::to_string(limits.max_bytes));
    if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF)
        return make_error(Errc::bad_format,
                          what + ": starts with a byte-order mark; save it as UTF-8 without BOM");
    // The JSON library stops at a NUL byte as if the input ended there; valid JSON has none.
    if (const size_t nul = text.find('\0'); nul != std::string_view::npos)
        return make_error(Errc::bad_format, what + ": NUL byte at offset " + std::to_string(nul) +
                                                " (JSON text cannot contain one)");
    DomSax<J> sax(limits.max_depth);
    bool ok = false;
    try {
        ok = J::sax_parse(text.begin(), text.end(), &sax, J::input_format_t::json, true);
    } catch (const std::exception& e) {
        if (sax.error.empty()) sax.error = std::string("not valid JSON: ") + e.what();
    }
    if (!ok)
        return make_error(Errc::bad_format,
                          what + ": " + (sax.error.empty() ? "not valid JSON" : sax.error));
    return std::move(sax.root);
}

}  // namespace

Result<json> parse_strict_json(std::string_view text, const std::string& what,
                               StrictJsonLimits limits) {
    return parse_strict_impl<json>(text, what, limits);
}

Result<nlohmann::ordered_json> parse_strict_ordered_json(std::string_view text,
                                                         const std::string& what,
                                                         StrictJsonLimits limits) {
    return parse_strict_impl<nlohmann::ordered_json>(text, what, limits);
}

Result<std::string> read_small_file(const std::string& path, StrictJsonLimits limits) {
    SUTRA_ASSIGN(InputFile f, InputFile::open(path));
    if (f.size() > limits.max_bytes)
        return make_error(Errc::too_large,
                          path + ": " + std::to_string(f.size()) + " bytes exceeds the limit of " +
                              std::to_string(limits.max_bytes) + " for a JSON file");
    std::string text(f.size(), '\0');
    SUTRA_TRY(
        f.read_at(0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), text.size())));
    return text;
}

Result<json> read_strict_json_file(const std::string& path, StrictJsonLimits limits) {
    SUTRA_ASSIGN(std::string text, read_small_file(path, limits));
    return parse_strict_json(text, path, limits);
}

Result<nlohmann::ordered_json> read_strict_ordered_json_file(const std::string& path,
                                                             StrictJsonLimits limits) {
    SUTRA_ASSIGN(std::string text, read_small_file(path, limits));
    return parse_strict_ordered_json(text, path, limits);
}

}  // namespace sutra::io
