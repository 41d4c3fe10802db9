#pragma once
// An output file that appears at its destination complete or not at all: data goes to a
// temporary file in the destination folder, which commit() flushes (fsync), renames over the
// destination and makes durable (fsync of the folder). Destroyed without commit(), or on
// SIGINT/SIGTERM/SIGHUP once install_signal_cleanup() was called, the temporary is removed.
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "sutra/base/error.hpp"

namespace sutra::io {

class OutputFile {
  public:
    OutputFile() = default;
    ~OutputFile();
    OutputFile(OutputFile&& other) noexcept;
    OutputFile& operator=(OutputFile&& other) noexcept;
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    // Refuses an existing destination unless force, a destination that is one of `inputs`
    // (always, force or not), a missing or non-writable folder.
    static Result<OutputFile> create(const std::filesystem::path& dest, bool force,
                                     const std::vector<std::filesystem::path>& inputs);

    Status write_at(uint64_t offset, std::span<const uint8_t> bytes);
    Status commit();
    const std::filesystem::path& destination() const { return dest_; }
    const std::filesystem::path& temp_path() const { return tmp_; }

  private:
    void discard();
    static constexpr uint64_t kWritebackStep = 32u << 20;
    int fd_ = -1;
    int slot_ = -1;
    uint64_t unflushed_ = 0;
    std::filesystem::path dest_;
    std::filesystem::path tmp_;
};

// Checks an output destination without creating anything (used by --dry-run too).
Status check_output_path(const std::filesystem::path& dest, bool force,
                         const std::vector<std::filesystem::path>& inputs);

// Installs handlers for SIGINT, SIGTERM and SIGHUP that remove every temporary output file
// still open, then die of the same signal (exit status 128 + signal). Also ignores SIGXFSZ so
// that exceeding a file-size limit is an ordinary write error.
void install_signal_cleanup();

}  // namespace sutra::io
