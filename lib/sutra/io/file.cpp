#include "sutra/io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace sutra::io {
namespace {

int64_t mtime_ns(const struct stat& st) {
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

}  // namespace

InputFile::~InputFile() {
    if (fd_ >= 0) ::close(fd_);
}

InputFile::InputFile(InputFile&& other) noexcept
    : fd_(other.fd_),
      path_(std::move(other.path_)),
      size_(other.size_),
      mtime_ns_(other.mtime_ns_) {
    other.fd_ = -1;
}

InputFile& InputFile::operator=(InputFile&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = other.fd_;
        path_ = std::move(other.path_);
        size_ = other.size_;
        mtime_ns_ = other.mtime_ns_;
        other.fd_ = -1;
    }
    return *this;
}

Result<InputFile> InputFile::open(const std::filesystem::path& path) {
    const std::string p = path.string();
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT) {
            struct stat lst {};
            if (::lstat(p.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
                std::error_code ec;
                const auto target = std::filesystem::read_symlink(path, ec);
                return make_error(
                    Errc::not_found,
                    p + ": is a dangling symbolic link" +
                        (ec ? std::string()
                            : " (to " + target.string() +
                                  ", which does not exist: an unfinished download?)"));
            }
            return make_error(Errc::not_found, p + ": no such file");
        }
        return make_error(Errc::io, p + ": cannot access: " + std::strerror(err));
    }
    if (S_ISDIR(st.st_mode))
        return make_error(Errc::invalid_argument, p + ": is a directory, not a file");
    if (!S_ISREG(st.st_mode))
        return make_error(Errc::invalid_argument,
                          p + ": is not a regular file (a FIFO, socket or device); pass a file");
    // O_NONBLOCK: the file could have been swapped for a FIFO since stat; never hang on it.
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return make_error(Errc::io, p + ": cannot open: " + std::strerror(errno));
    InputFile f;
    f.fd_ = fd;
    f.path_ = path;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return make_error(Errc::bad_format, p + ": is not a regular file");
    f.size_ = static_cast<uint64_t>(st.st_size);
    f.mtime_ns_ = mtime_ns(st);
    return f;
}

Status InputFile::read_at(uint64_t offset, std::span<uint8_t> out) const {
    size_t done = 0;
    while (done < out.size()) {
        const ssize_t n =
            ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(Errc::io, path_.string() + ": read failed at offset " +
                                            std::to_string(offset + done) + ": " +
                                            std::strerror(errno));
        }
        if (n == 0)
            return make_error(
                Errc::bad_format,
                path_.string() + ": file ended at offset " + std::to_string(offset + done) +
                    " while reading " + std::to_string(out.size()) + " bytes at offset " +
                    std::to_string(offset) + " (was it truncated while sutra was reading it?)");
        done += static_cast<size_t>(n);
    }
    return {};
}

Status InputFile::check_unchanged() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0)
        return make_error(Errc::io, path_.string() + ": cannot stat: " + std::strerror(errno));
    if (static_cast<uint64_t>(st.st_size) != size_ || mtime_ns(st) != mtime_ns_)
        return make_error(Errc::bad_format,
                          path_.string() +
                              ": the file changed while sutra was reading it (size or "
                              "modification time differ); rerun once it is no longer written");
    return {};
}

bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
    struct stat sa {
    }, sb{};
    if (::stat(a.string().c_str(), &sa) != 0 || ::stat(b.string().c_str(), &sb) != 0) return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace sutra::io
