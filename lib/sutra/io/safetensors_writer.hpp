#pragma once
// Serializes a safetensors header for tensors stored contiguously in the given order.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sutra/base/dtype.hpp"

namespace sutra::io {

struct OutTensor {
    std::string name;
    DType dtype = DType::F32;
    std::vector<uint64_t> shape;
    uint64_t nbytes = 0;
};

// The JSON header (without the 8-byte length prefix): "__metadata__" first (omitted when
// empty), then the tensors in order with data_offsets contiguous from 0, compact, padded with
// trailing spaces so that 8 + header length is a multiple of 8 (data then starts aligned).
std::string build_safetensors_header(
    const std::vector<std::pair<std::string, std::string>>& metadata,
    const std::vector<OutTensor>& tensors);

// The 8-byte little-endian length prefix of a header.
std::string header_length_prefix(uint64_t n);

}  // namespace sutra::io
