#pragma once
// Header-only helpers that build safetensors files in memory for tests: well-formed ones from a
// tensor list, and hand-crafted broken ones from a raw JSON header, a forged length prefix and
// arbitrary data bytes.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "sutra/base/error.hpp"

// Checks that a Result holds an error with the given code and whose message contains every
// given word, e.g. SUTRA_REQUIRE_ERROR(parse(b), sutra::Errc::bad_format, "tensor 'w'", "gap").
#define SUTRA_REQUIRE_ERROR(expr, errc, ...)                                                \
    do {                                                                                    \
        const auto& sutra_r_ = (expr);                                                      \
        REQUIRE_FALSE(sutra_r_.ok());                                                       \
        INFO("message: " << sutra_r_.error().message);                                      \
        CHECK(std::string(sutra::errc_name(sutra_r_.error().code)) ==                       \
              std::string(sutra::errc_name(errc)));                                         \
        /* std::string, not string_view: the words may be temporaries */                    \
        for (const std::string& sutra_w_ : std::initializer_list<std::string>{__VA_ARGS__}) \
            CHECK_THAT(sutra_r_.error().message, Catch::Contains(sutra_w_));                \
    } while (0)

// Shows the error message when a Result that should be ok is not.
#define SUTRA_REQUIRE_OK(expr)                                                         \
    do {                                                                               \
        const auto& sutra_r_ = (expr);                                                 \
        INFO("error: " << (sutra_r_.ok() ? std::string() : sutra_r_.error().message)); \
        REQUIRE(sutra_r_.ok());                                                        \
    } while (0)

namespace sutra::test {

using Bytes = std::vector<uint8_t>;

// 8-byte little-endian length + header bytes + data bytes. `length` overrides the prefix
// (for forged lengths); by default it is the header's size.
inline Bytes st_raw(std::string_view header, const Bytes& data = {},
                    std::optional<uint64_t> length = std::nullopt) {
    const uint64_t n = length.value_or(header.size());
    Bytes out;
    out.reserve(8 + header.size() + data.size());
    for (int i = 0; i < 8; ++i)
        out.push_back(static_cast<uint8_t>(n >> (8 * i)));
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

inline Bytes f32_bytes(std::initializer_list<float> values) {
    Bytes b(values.size() * 4);
    size_t i = 0;
    for (float v : values) {
        std::memcpy(b.data() + 4 * i, &v, 4);
        ++i;
    }
    return b;
}

inline Bytes u16_bytes(std::initializer_list<uint16_t> values) {
    Bytes b;
    for (uint16_t v : values) {
        b.push_back(static_cast<uint8_t>(v & 0xff));
        b.push_back(static_cast<uint8_t>(v >> 8));
    }
    return b;
}

// n bytes 0, 1, 2, ... (mod 256): data whose every byte is distinguishable.
inline Bytes ramp_bytes(size_t n, uint8_t start = 0) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i)
        b[i] = static_cast<uint8_t>(start + i);
    return b;
}

// A JSON string literal (quoted, escaped).
inline std::string json_str(std::string_view s) {
    return nlohmann::json(std::string(s)).dump();
}

// A well-formed safetensors file: tensors stored contiguously in the order added.
class StBuilder {
  public:
    StBuilder& meta(std::string key, std::string value) {
        meta_.emplace_back(std::move(key), std::move(value));
        return *this;
    }
    StBuilder& tensor(std::string name, std::string dtype, std::vector<uint64_t> shape,
                      Bytes data) {
        tensors_.push_back(T{std::move(name), std::move(dtype), std::move(shape), std::move(data)});
        return *this;
    }
    StBuilder& f32(std::string name, std::vector<uint64_t> shape,
                   std::initializer_list<float> values) {
        return tensor(std::move(name), "F32", std::move(shape), f32_bytes(values));
    }
    // A F32 tensor of the given shape filled with small distinct values.
    StBuilder& f32_filled(std::string name, std::vector<uint64_t> shape, float seed = 0.25f) {
        uint64_t n = 1;
        for (auto d : shape)
            n *= d;
        Bytes b(n * 4);
        for (uint64_t i = 0; i < n; ++i) {
            const float v = seed * static_cast<float>((i * 7919u) % 97u) / 97.0f - seed / 2;
            std::memcpy(b.data() + 4 * i, &v, 4);
        }
        return tensor(std::move(name), "F32", std::move(shape), std::move(b));
    }

    std::string header() const {
        std::string h = "{";
        bool first = true;
        if (!meta_.empty()) {
            h += "\"__metadata__\":{";
            for (size_t i = 0; i < meta_.size(); ++i)
                h += (i ? "," : "") + json_str(meta_[i].first) + ":" + json_str(meta_[i].second);
            h += "}";
            first = false;
        }
        uint64_t off = 0;
        for (const auto& t : tensors_) {
            h += first ? "" : ",";
            first = false;
            h += json_str(t.name) + ":{\"dtype\":" + json_str(t.dtype) + ",\"shape\":[";
            for (size_t i = 0; i < t.shape.size(); ++i)
                h += (i ? "," : "") + std::to_string(t.shape[i]);
            h += "],\"data_offsets\":[" + std::to_string(off) + "," +
                 std::to_string(off + t.data.size()) + "]}";
            off += t.data.size();
        }
        return h + "}";
    }
    Bytes data() const {
        Bytes d;
        for (const auto& t : tensors_)
            d.insert(d.end(), t.data.begin(), t.data.end());
        return d;
    }
    Bytes bytes() const { return st_raw(header(), data()); }
    void write(const std::filesystem::path& p) const;

  private:
    struct T {
        std::string name, dtype;
        std::vector<uint64_t> shape;
        Bytes data;
    };
    std::vector<std::pair<std::string, std::string>> meta_;
    std::vector<T> tensors_;
};

inline void write_bytes(const std::filesystem::path& p, const Bytes& b) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    if (!f) throw std::runtime_error("cannot write test file " + p.string());
}

inline void write_text(const std::filesystem::path& p, std::string_view s) {
    write_bytes(p, Bytes(s.begin(), s.end()));
}

inline Bytes read_bytes(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline void StBuilder::write(const std::filesystem::path& p) const {
    write_bytes(p, bytes());
}

}  // namespace sutra::test
