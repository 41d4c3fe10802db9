#pragma once
// Names the files people point sutra at by mistake, from their first bytes: a Git LFS pointer
// (weights never pulled), a GGUF file, a PyTorch checkpoint (zip or pickle), an HTML or XML
// page saved as the model (a failed download), a NumPy array, a compressed file, a JSON text.
// Pure (bytes in, text out). The readers call it only once a file has failed to parse as
// safetensors, so a valid file is never refused because of how it begins.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "sutra/base/error.hpp"

namespace sutra::io {

// How many leading bytes describe_foreign_format looks at (it accepts fewer).
inline constexpr size_t kForeignSniffBytes = 512;

// What the file is and what to do instead, as the rest of one error line ("this is a Git LFS
// pointer, not the weights; run `git lfs pull` ..."), or nullopt if the bytes look like none
// of the known formats.
std::optional<std::string> describe_foreign_format(std::span<const uint8_t> head);

// Whether a file of `file_size` bytes starting with `head` has the shape of a safetensors file
// (a header length within the limit and the file, and a header that begins with '{'): a
// damaged one, then, whose own error is more useful than a guess at another format.
bool looks_like_safetensors(std::span<const uint8_t> head, uint64_t file_size);

// For a file that failed to parse as safetensors: an error naming the format its first bytes
// show ("what: this is a Git LFS pointer, ..."), unless it looks like safetensors or like no
// known format; then `parse_error` unchanged.
Error name_foreign_format(Error parse_error, std::span<const uint8_t> head, uint64_t file_size,
                          const std::string& what);

}  // namespace sutra::io
