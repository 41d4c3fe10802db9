#pragma once
// Pure parser and validator of a safetensors header (bytes in, description out).
//
// File layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data.
// The JSON root is an object; "__metadata__" maps strings to strings (or is null); every other
// key names a tensor {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]} with offsets
// relative to the start of the data. sutra accepts every header the reference parser
// (huggingface/safetensors, safetensors/src/tensor.rs) accepts, except where noted as
// stricter below. Validation (all before any tensor data is read):
//   - N >= 2, N <= kMaxHeaderBytes, 8 + N <= file size;
//   - the JSON starts with '{' (after optional spaces), is valid UTF-8 without NUL bytes;
//   - every dtype of the current format is known (exact case; sub-byte F4 and F6_* too);
//     shape entries and offsets are whole numbers in 0..2^64-1 ("-0" is 0); any rank;
//     element counts and byte sizes do not overflow; a sub-byte tensor fills whole bytes;
//   - fields of a tensor entry other than dtype, shape and data_offsets are ignored (as the
//     reference does), whatever their value, nested at most kMaxNesting levels in all;
//   - end - begin equals the byte size; sorted by offset, the tensors cover [0, data size)
//     exactly, with no gap, overlap or trailing byte.
// Stricter than the reference: a duplicate tensor name or a duplicate key inside __metadata__
// is refused (the reference keeps the last one silently; other JSON readers keep the first,
// so such a file means different things to different tools).
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sutra/base/dtype.hpp"
#include "sutra/base/error.hpp"

namespace sutra::io {

inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// Deepest nesting of JSON containers, the root object included; serde_json, which the
// reference uses, stops at the same depth (its recursion limit of 128).
inline constexpr size_t kMaxNesting = 127;

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

// Parses a whole in-memory safetensors file (used by tests and fuzzers). A file that fails
// and looks like another format (io/foreign_format.hpp) gets an error naming that format.
Result<SafetensorsHeader> parse_safetensors_bytes(std::span<const uint8_t> file,
                                                  const std::string& what);

}  // namespace sutra::io
