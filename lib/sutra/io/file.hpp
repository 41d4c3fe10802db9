#pragma once
// A read-only file opened for positioned reads (pread), with its size and identity fixed at
// open time so that a file changed while it is read is detected.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "sutra/base/error.hpp"

namespace sutra::io {

class InputFile {
  public:
    InputFile() = default;
    ~InputFile();
    InputFile(InputFile&& other) noexcept;
    InputFile& operator=(InputFile&& other) noexcept;
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    // Opens a regular file. A directory, FIFO, device or dangling link is refused.
    static Result<InputFile> open(const std::filesystem::path& path);

    const std::filesystem::path& path() const { return path_; }
    uint64_t size() const { return size_; }
    // The open descriptor (for io::MappedFile); owned by this object.
    int fd() const { return fd_; }

    // Reads exactly out.size() bytes at offset; a short read (the file shrank) is an error.
    Status read_at(uint64_t offset, std::span<uint8_t> out) const;
    // Fails if the file's size or modification time differ from when it was opened.
    Status check_unchanged() const;

  private:
    int fd_ = -1;
    std::filesystem::path path_;
    uint64_t size_ = 0;
    int64_t mtime_ns_ = 0;
};

// Whether two paths name the same file (same device and inode); false if either is missing.
bool same_file(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace sutra::io
