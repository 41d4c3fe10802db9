#pragma once
// Writes a GGUF version 3 file (format/GGUF.md, "File layout"): the header — metadata in the
// order given, then the tensor infos with every offset computed up front from the types and
// dimensions — then the tensor data, streamed tensor by tensor through an io::OutputFile
// (temporary + rename: the file appears whole or not at all). Each tensor starts at a
// multiple of the alignment (32, llama.cpp's default, so general.alignment is not written);
// the gaps and the end of the last tensor are padded with zero bytes, as gguf-py does.
// The same metadata and tensors always give the same bytes.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/format/gguf_value.hpp"
#include "sutra/io/output_file.hpp"
#include "sutra/quant/ggml_types.hpp"

namespace sutra::format {

inline constexpr uint64_t kGgufWriteAlignment = 32;

struct GgufTensorSpec {
    std::string name;
    std::vector<uint64_t> dims;  // ggml order: dims[0] is the row width
    quant::GgmlType type = quant::GgmlType::F32;
};

struct GgufLayout {
    std::vector<uint8_t> header;    // magic .. tensor infos, padded to the alignment
    std::vector<uint64_t> offsets;  // per tensor, relative to the data start
    std::vector<uint64_t> nbytes;   // per tensor
    uint64_t data_start = 0;        // header.size()
    uint64_t file_size = 0;
};

// The header bytes and the placement of every tensor. invalid_argument for what a reader
// would refuse: a duplicate or empty key or tensor name, a name of 64 bytes or more, 0 or
// more than 4 dimensions, a 0 dimension, a row width that is not whole blocks of the type, an
// array whose items are not all of its element type, an array of arrays, or a
// general.alignment key (the writer places tensors itself).
Result<GgufLayout> layout_gguf(const GgufMetadata& metadata,
                               const std::vector<GgufTensorSpec>& tensors);

class GgufWriter {
  public:
    // Writes the header to `out` and prepares the tensors.
    static Result<GgufWriter> begin(io::OutputFile out, const GgufMetadata& metadata,
                                    std::vector<GgufTensorSpec> tensors);

    // Appends bytes to tensor `index` (tensors may be written in any order, each one front
    // to back). More bytes than the tensor holds is an internal error.
    Status append(size_t index, std::span<const uint8_t> bytes);
    // Checks that every tensor is complete, writes the padding, flushes and renames.
    Status finish();

    const GgufLayout& layout() const { return layout_; }
    const std::vector<GgufTensorSpec>& tensors() const { return tensors_; }
    uint64_t file_size() const { return layout_.file_size; }

  private:
    io::OutputFile out_;
    std::vector<GgufTensorSpec> tensors_;
    GgufLayout layout_;
    std::vector<uint64_t> written_;
};

}  // namespace sutra::format
