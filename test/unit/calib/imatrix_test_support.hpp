#pragma once
// Writers of llama.cpp importance-matrix files for the tests, written from the layout
// descriptions in lib/sutra/calib/IMATRIX.md (not from sutra's reader):
//   legacy: i32 n_entries; per entry i32 name length, name, i32 ncall, i32 nval,
//           f32 values[nval] (= mean x^2 * ncall); optionally i32 chunk count, i32 dataset
//           name length, dataset name.
//   GGUF:   "GGUF", u32 version 3, u64 tensor count, u64 key count, keys (u64 length + key,
//           u32 type, value), tensor infos (u64 length + name, u32 n_dims, u64 dims, u32 type,
//           u64 offset), zero padding to 32, data; per entry <name>.in_sum2 F32 [n] (sums of
//           x^2) and <name>.counts F32 [1] (tokens).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace sutra::test::imatrix {

using Bytes = std::vector<uint8_t>;

inline void put_u32(Bytes& b, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void put_i32(Bytes& b, int32_t v) {
    uint32_t u = 0;
    std::memcpy(&u, &v, 4);
    put_u32(b, u);
}
inline void put_u64(Bytes& b, uint64_t v) {
    for (int i = 0; i < 8; ++i)
        b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void put_f32(Bytes& b, float f) {
    uint32_t u = 0;
    std::memcpy(&u, &f, 4);
    put_u32(b, u);
}
inline void put_str(Bytes& b, const std::string& s) {
    b.insert(b.end(), s.begin(), s.end());
}

struct LegacyEntry {
    std::string name;
    int32_t ncall = 1;
    std::vector<float> values;  // as stored: mean x^2 * ncall
};

// The legacy layout; trailer: 0 none, 1 chunk count only, 2 chunk count and dataset name.
inline Bytes legacy_file(const std::vector<LegacyEntry>& entries, int trailer = 2,
                         int32_t chunks = 10, const std::string& dataset = "calib.txt") {
    Bytes b;
    put_i32(b, static_cast<int32_t>(entries.size()));
    for (const auto& e : entries) {
        put_i32(b, static_cast<int32_t>(e.name.size()));
        put_str(b, e.name);
        put_i32(b, e.ncall);
        put_i32(b, static_cast<int32_t>(e.values.size()));
        for (float v : e.values)
            put_f32(b, v);
    }
    if (trailer >= 1) put_i32(b, chunks);
    if (trailer >= 2) {
        put_i32(b, static_cast<int32_t>(dataset.size()));
        put_str(b, dataset);
    }
    return b;
}

// A GGUF file of F32 tensors (dims in GGUF order: dims[0] is the row width) and metadata.
struct GgufTensor {
    std::string name;
    std::vector<uint64_t> dims;
    std::vector<float> values;
    uint32_t type = 0;  // F32
};
struct GgufKv {
    std::string key;
    enum Kind { str, u32, str_array } kind = str;
    std::string s;
    uint32_t u = 0;
    std::vector<std::string> items;
};

inline Bytes gguf_file(const std::vector<GgufKv>& kvs, const std::vector<GgufTensor>& tensors) {
    Bytes b;
    put_str(b, "GGUF");
    put_u32(b, 3);
    put_u64(b, tensors.size());
    put_u64(b, kvs.size());
    auto put_gstr = [&](const std::string& s) {
        put_u64(b, s.size());
        put_str(b, s);
    };
    for (const auto& kv : kvs) {
        put_gstr(kv.key);
        if (kv.kind == GgufKv::str) {
            put_u32(b, 8);
            put_gstr(kv.s);
        } else if (kv.kind == GgufKv::u32) {
            put_u32(b, 4);
            put_u32(b, kv.u);
        } else {
            put_u32(b, 9);
            put_u32(b, 8);
            put_u64(b, kv.items.size());
            for (const auto& it : kv.items)
                put_gstr(it);
        }
    }
    uint64_t offset = 0;
    std::vector<uint64_t> offsets;
    for (const auto& t : tensors) {
        put_gstr(t.name);
        put_u32(b, static_cast<uint32_t>(t.dims.size()));
        for (uint64_t d : t.dims)
            put_u64(b, d);
        put_u32(b, t.type);
        put_u64(b, offset);
        offsets.push_back(offset);
        offset += (t.values.size() * 4 + 31) / 32 * 32;
    }
    while (b.size() % 32)
        b.push_back(0);
    const size_t data = b.size();
    for (size_t i = 0; i < tensors.size(); ++i) {
        b.resize(data + offsets[i], 0);
        for (float v : tensors[i].values)
            put_f32(b, v);
    }
    while ((b.size() - data) % 32)
        b.push_back(0);
    return b;
}

// An imatrix entry in the GGUF layout: sums of x^2 = mean x^2 * tokens.
inline void add_gguf_entry(std::vector<GgufTensor>& t, const std::string& name,
                           const std::vector<float>& mean_sq, float tokens) {
    std::vector<float> sums;
    for (float v : mean_sq)
        sums.push_back(v * tokens);
    t.push_back({name + ".in_sum2", {mean_sq.size(), 1}, sums});
    t.push_back({name + ".counts", {1, 1}, {tokens}});
}

inline std::vector<GgufKv> imatrix_kvs(uint32_t chunks = 4, uint32_t chunk_size = 256) {
    return {{"general.type", GgufKv::str, "imatrix", 0, {}},
            {"imatrix.datasets", GgufKv::str_array, "", 0, {"tinystories_calib.txt"}},
            {"imatrix.chunk_count", GgufKv::u32, "", chunks, {}},
            {"imatrix.chunk_size", GgufKv::u32, "", chunk_size, {}}};
}

}  // namespace sutra::test::imatrix
