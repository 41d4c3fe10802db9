#pragma once
// Pure parser and validator of a GGUF header (bytes in, description out), versions 2 and 3
// (the same layout; version 1, with 32-bit counts, is refused as llama.cpp refuses it). The
// layout is in format/GGUF.md, "File layout"; in short, little-endian throughout:
//
//   "GGUF"  u32 version  u64 tensor_count  u64 kv_count
//   kv_count x    { string key, u32 value type, value }
//   tensor_count x { string name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset }
//   padding to `alignment` (general.alignment, u32, a power of two; default 32)
//   data: tensor t at data_start + offset(t)
//
// A string is u64 length + bytes; an array is u32 element type + u64 count + the elements.
// Validation, all before any tensor data is read (every size and offset with overflow-checked
// arithmetic; counts are checked against the bytes left before anything is allocated, so a
// hostile header never makes the parser allocate much more than its own size):
//   - magic, version 2 or 3; at most kMaxGgufTensors tensors and kMaxGgufKeys keys;
//   - keys: non-empty, unique, at most kMaxGgufKeyBytes; value types known; strings at most
//     kMaxGgufStringBytes; arrays nested at most kMaxGgufArrayDepth deep, at most
//     kMaxGgufArrayItems items in all arrays of the file together;
//   - general.alignment, when present: u32, a power of two, at most kMaxGgufAlignment;
//   - tensors: names non-empty, unique, shorter than 64 bytes (llama.cpp's GGML_MAX_NAME);
//     1..4 dimensions, each >= 1, element count < 2^63; the ggml type one sutra knows
//     (quant/ggml_types.hpp: unsupported otherwise, naming the id) and the first dimension a
//     multiple of its block; offset a multiple of the alignment; [offset, offset + bytes)
//     inside the data section when the file size is known; no two tensors overlapping.
// Errors are bad_format (too_large for a limit, unsupported for an unknown ggml type) with a
// message naming `what`, the byte offset and the key or tensor.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/format/gguf_value.hpp"

namespace sutra::format {

inline constexpr uint64_t kMaxGgufTensors = 1u << 20;
inline constexpr uint64_t kMaxGgufKeys = 1u << 16;
inline constexpr uint64_t kMaxGgufKeyBytes = 1u << 16;
inline constexpr uint64_t kMaxGgufStringBytes = 64u << 20;
inline constexpr uint64_t kMaxGgufArrayItems = 1u << 22;
inline constexpr uint32_t kMaxGgufArrayDepth = 4;
inline constexpr uint64_t kMaxGgufAlignment = 1u << 16;
inline constexpr uint64_t kGgufDefaultAlignment = 32;
inline constexpr uint64_t kGgufMaxNameBytes = 63;
// The file opener reads at most this many header bytes.
inline constexpr uint64_t kMaxGgufHeaderBytes = 512u << 20;

struct GgufTensorInfo {
    std::string name;
    // In GGUF (ggml) order: dims[0] is the fastest-varying dimension, the row width; a
    // PyTorch shape [rows, cols] is stored as {cols, rows}.
    std::vector<uint64_t> dims;
    uint32_t type_id = 0;  // ggml type (quant::GgmlType values)
    uint64_t offset = 0;   // relative to data_start
    uint64_t nbytes = 0;   // from the type and dims
    uint64_t numel = 0;
};

struct GgufHeader {
    uint32_t version = 3;
    GgufMetadata metadata;                // in file order
    std::vector<GgufTensorInfo> tensors;  // in file order
    uint64_t alignment = kGgufDefaultAlignment;
    uint64_t header_end = 0;  // first byte after the last tensor info
    uint64_t data_start = 0;  // header_end rounded up to the alignment

    const GgufValue* find(std::string_view key) const { return gguf_find(metadata, key); }
    const GgufTensorInfo* find_tensor(std::string_view name) const;
};

// Parses the header at the start of `bytes`. `file_size` is the size of the whole file
// (bytes may be only its first part) or 0 when unknown (tensor ranges are then not checked
// against the end of the data). A header that runs past the end of `bytes` is an error.
Result<GgufHeader> parse_gguf_header(std::span<const uint8_t> bytes, uint64_t file_size,
                                     const std::string& what);

// Reads the header of the file at `path`: as many bytes as the header needs (starting with
// 1 MiB, doubling, at most kMaxGgufHeaderBytes), then parses them with the file's size.
Result<GgufHeader> read_gguf_header(const std::filesystem::path& path);

}  // namespace sutra::format
