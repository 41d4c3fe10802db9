#pragma once
// Pure parser and validator of a safetensors header (bytes in, description out).
//
// File layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data.
// The JSON root is an object; "__metadata__" maps strings to strings; every other key names a
// tensor {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]} with offsets relative to
// the start of the data. Validation (all before any tensor data is read):
//   - N >= 2, N <= kMaxHeaderBytes, 8 + N <= file size;
//   - the JSON starts with '{' (after optional spaces), is valid UTF-8, nests at most 3 levels,
//     has no duplicate keys, and no unknown fields;
//   - dtypes are known (exact case); shape entries and offsets are non-negative integers < 2^64;
//     rank <= kMaxRank; element counts and byte sizes do not overflow;
//   - end - begin equals the byte size; sorted by offset, the tensors cover [0, data size)
//     exactly, with no gap, overlap or trailing byte.
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sutra/base/dtype.hpp"
#include "sutra/base/error.hpp"

namespace sutra::io {

inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;
inline constexpr size_t kMaxRank = 8;

struct TensorEntry {
    std::string name;
    DType dtype = DType::F32;
    std::vector<uint64_t> shape;
    uint64_t numel = 0;
    uint64_t begin = 0;  // relative to the start of the data section
    uint64_t end = 0;
    uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
    uint64_t header_len = 0;  // N
    uint64_t data_start = 0;  // 8 + N
    uint64_t data_len = 0;
    std::vector<TensorEntry> tensors;                           // in header key order
    std::vector<std::pair<std::string, std::string>> metadata;  // in header order
};

// Reads the 8-byte prefix: the header length, checked against the cap and the file size.
// `what` names the file in messages.
Result<uint64_t> parse_header_length(std::span<const uint8_t> prefix8, uint64_t file_size,
                                     const std::string& what);

// Parses and validates the JSON header. data_len = file size - 8 - N.
Result<SafetensorsHeader> parse_safetensors_header(std::span<const uint8_t> json, uint64_t data_len,
                                                   const std::string& what);

// Parses a whole in-memory safetensors file (used by tests and fuzzers).
Result<SafetensorsHeader> parse_safetensors_bytes(std::span<const uint8_t> file,
                                                  const std::string& what);

}  // namespace sutra::io
