#pragma once
// Builds small valid safetensors checkpoints for tests (through the library's header writer).
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sutra/base/half.hpp"
#include "sutra/io/safetensors_writer.hpp"

namespace sutra::test {

struct FixtureTensor {
    std::string name;
    DType dtype = DType::F32;
    std::vector<uint64_t> shape;
    std::vector<float> values;  // for F32/F16/BF16
    std::vector<uint8_t> raw;   // for other dtypes (used as is)
};

inline std::vector<uint8_t> encode_values(const FixtureTensor& t) {
    if (!dtype_is_float_quantizable(t.dtype)) return t.raw;
    std::vector<uint8_t> b(t.values.size() * dtype_size(t.dtype));
    for (size_t i = 0; i < t.values.size(); ++i) {
        if (t.dtype == DType::F32) {
            std::memcpy(b.data() + 4 * i, &t.values[i], 4);
        } else {
            const uint16_t h =
                t.dtype == DType::F16 ? f32_to_f16(t.values[i]) : f32_to_bf16(t.values[i]);
            std::memcpy(b.data() + 2 * i, &h, 2);
        }
    }
    return b;
}

inline void write_safetensors(
    const std::filesystem::path& path, const std::vector<FixtureTensor>& tensors,
    const std::vector<std::pair<std::string, std::string>>& metadata = {}) {
    std::vector<io::OutTensor> outs;
    std::vector<std::vector<uint8_t>> data;
    for (const auto& t : tensors) {
        data.push_back(encode_values(t));
        outs.push_back({t.name, t.dtype, t.shape, data.back().size()});
    }
    const std::string h = io::build_safetensors_header(metadata, outs);
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    const std::string prefix = io::header_length_prefix(h.size());
    f.write(prefix.data(), 8);
    f.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& d : data)
        f.write(reinterpret_cast<const char*>(d.data()), static_cast<std::streamsize>(d.size()));
}

// Deterministic pseudo-random values in [-scale, scale].
inline std::vector<float> noise(size_t n, uint32_t seed, float scale = 1.0f) {
    std::vector<float> v(n);
    uint32_t s = seed * 2654435761u + 12345u;
    for (auto& x : v) {
        s = s * 1664525u + 1013904223u;
        x = (static_cast<float>(s >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
    return v;
}

inline std::vector<uint8_t> read_file(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                                std::istreambuf_iterator<char>());
}

inline void write_file(const std::filesystem::path& p, const std::vector<uint8_t>& b) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace sutra::test
