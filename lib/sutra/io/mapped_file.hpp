#pragma once
// A whole input file mapped read-only into memory (mmap), for weights the forward pass reads
// in place: no copy on the heap, pages shared with the page cache and with other processes
// reading the same file, and a model that is "loaded" before its first page is touched.
//
// The mapping stays valid after the InputFile it was made from is closed. A file truncated by
// another program while it is mapped makes reads past its new end fault (SIGBUS), as with
// every memory-mapped loader; sutra itself never rewrites a file in place (it writes a
// temporary and renames it, which leaves a mapping of the old file intact). Where that risk
// is not acceptable (a file on a network share others write), read instead (`--no-mmap`).
#include <cstdint>
#include <memory>
#include <span>

#include "sutra/base/error.hpp"
#include "sutra/io/file.hpp"

namespace sutra::io {

class MappedFile {
  public:
    // Maps all of `file` (its size at open time). An empty file maps to no bytes.
    static Result<std::shared_ptr<const MappedFile>> map(const InputFile& file);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::span<const uint8_t> bytes() const { return {data_, size_}; }

  private:
    MappedFile(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}
    const uint8_t* data_ = nullptr;
    uint64_t size_ = 0;
};

}  // namespace sutra::io
