#include "sutra/io/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "sutra/io/file.hpp"

namespace sutra::io {
namespace fs = std::filesystem;

namespace {

// Temporary files open right now, for the signal handler: fixed storage, async-signal-safe.
constexpr int kSlots = 16;
constexpr size_t kPathMax = 4096;
std::array<char[kPathMax], kSlots> g_paths{};
std::array<std::atomic<bool>, kSlots> g_used{};

int register_temp(const std::string& p) {
    if (p.size() >= kPathMax) return -1;
    for (int i = 0; i < kSlots; ++i) {
        bool expected = false;
        if (g_used[static_cast<size_t>(i)].compare_exchange_strong(expected, true)) {
            std::memcpy(g_paths[static_cast<size_t>(i)], p.c_str(), p.size() + 1);
            return i;
        }
    }
    return -1;
}

void unregister_temp(int slot) {
    if (slot >= 0) g_used[static_cast<size_t>(slot)].store(false);
}

extern "C" void cleanup_and_die(int sig) {
    for (int i = 0; i < kSlots; ++i)
        if (g_used[static_cast<size_t>(i)].load()) ::unlink(g_paths[static_cast<size_t>(i)]);
    std::signal(sig, SIG_DFL);
    ::raise(sig);
}

std::string errno_text(int e) {
    return std::strerror(e);
}

}  // namespace

void install_signal_cleanup() {
    struct sigaction sa {};
    sa.sa_handler = cleanup_and_die;
    sigemptyset(&sa.sa_mask);
    for (int s : {SIGINT, SIGTERM, SIGHUP})
        ::sigaction(s, &sa, nullptr);
    std::signal(SIGXFSZ, SIG_IGN);
}

Status check_output_path(const fs::path& dest, bool force, const std::vector<fs::path>& inputs) {
    const std::string d = dest.string();
    if (d.empty()) return make_error(Errc::invalid_argument, "no output path given; pass -o FILE");
    for (const auto& in : inputs) {
        std::error_code ec;
        if (same_file(dest, in) || fs::weakly_canonical(dest, ec) == fs::weakly_canonical(in, ec))
            return make_error(
                Errc::invalid_argument,
                d + ": the output is the input file " + in.string() +
                    "; choose another output path (sutra never overwrites its input)");
    }
    std::error_code ec;
    const auto st = fs::symlink_status(dest, ec);
    if (fs::exists(st) || fs::is_symlink(st)) {
        if (fs::is_directory(fs::status(dest, ec)))
            return make_error(Errc::invalid_argument,
                              d + ": is a directory; give a file name for the output");
        if (!force)
            return make_error(Errc::exists, d + ": already exists; use --force to overwrite it");
    }
    const fs::path dir = dest.parent_path().empty() ? fs::path(".") : dest.parent_path();
    if (!fs::is_directory(dir, ec))
        return make_error(Errc::not_found,
                          d + ": the output folder " + dir.string() + " does not exist");
    if (::access(dir.string().c_str(), W_OK) != 0)
        return make_error(Errc::io, d + ": cannot write in the output folder " + dir.string() +
                                        ": " + errno_text(errno));
    return {};
}

OutputFile::~OutputFile() {
    discard();
}

OutputFile::OutputFile(OutputFile&& o) noexcept
    : fd_(o.fd_), slot_(o.slot_), dest_(std::move(o.dest_)), tmp_(std::move(o.tmp_)) {
    o.fd_ = -1;
    o.slot_ = -1;
    o.tmp_.clear();
}

OutputFile& OutputFile::operator=(OutputFile&& o) noexcept {
    if (this != &o) {
        discard();
        fd_ = o.fd_;
        slot_ = o.slot_;
        dest_ = std::move(o.dest_);
        tmp_ = std::move(o.tmp_);
        o.fd_ = -1;
        o.slot_ = -1;
        o.tmp_.clear();
    }
    return *this;
}

void OutputFile::discard() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
    tmp_.clear();
    unregister_temp(slot_);
    slot_ = -1;
}

Result<OutputFile> OutputFile::create(const fs::path& dest, bool force,
                                      const std::vector<fs::path>& inputs) {
    SUTRA_TRY(check_output_path(dest, force, inputs));
    const fs::path dir = dest.parent_path().empty() ? fs::path(".") : dest.parent_path();
    std::string name =
        ".";  // built piecewise: GCC 12 warns falsely (-Wrestrict) on "." + s + "..."
    name += dest.filename().string();
    name += ".sutra-tmp-";
    OutputFile f;
    // The temporary's full name is registered for the signal handler before the file is
    // created (O_EXCL), so a signal at any moment — handled by any thread — finds the real
    // name, never a template.
    static std::atomic<uint64_t> counter{0};
    std::string tmpl;
    int fd = -1, create_errno = 0;
    for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
        const uint64_t salt =
            (static_cast<uint64_t>(::getpid()) << 32) ^ counter.fetch_add(1) ^
            static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        char suffix[17];
        std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(salt));
        tmpl = (dir / (name + suffix)).string();
        f.slot_ = register_temp(tmpl);
        fd = ::open(tmpl.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        create_errno = errno;
        if (fd < 0) {
            unregister_temp(f.slot_);
            f.slot_ = -1;
            if (create_errno != EEXIST) break;
        }
    }
    if (fd < 0)
        return make_error(Errc::io, dest.string() + ": cannot create a temporary file in " +
                                        dir.string() + ": " + errno_text(create_errno));
    // Created 0600; give the file the mode a plain open(0666) would get under the umask.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    f.fd_ = fd;
    f.dest_ = dest;
    f.tmp_ = tmpl;
    return f;
}

Status OutputFile::write_at(uint64_t offset, std::span<const uint8_t> bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done,
                                   static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            std::string hint =
                (e == ENOSPC || e == EFBIG || e == EDQUOT)
                    ? " (the disk or a file-size limit is full; free space and retry)"
                    : "";
            return make_error(Errc::io, dest_.string() + ": write failed at offset " +
                                            std::to_string(offset + done) + ": " + errno_text(e) +
                                            hint);
        }
        done += static_cast<size_t>(n);
    }
    // Start writing dirty pages to disk every kWritebackStep bytes, in the background, so that
    // commit()'s fsync has little left to wait for.
    unflushed_ += bytes.size();
    if (unflushed_ >= kWritebackStep) {
        unflushed_ = 0;
#if defined(__linux__)
        ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);  // advisory: errors show at fsync
#endif
    }
    return {};
}

Status OutputFile::commit() {
    if (::fsync(fd_) != 0)
        return make_error(Errc::io,
                          dest_.string() + ": flushing to disk failed: " + errno_text(errno));
    if (::close(fd_) != 0) {
        fd_ = -1;
        return make_error(Errc::io, dest_.string() + ": closing failed: " + errno_text(errno));
    }
    fd_ = -1;
    if (::rename(tmp_.c_str(), dest_.c_str()) != 0)
        return make_error(
            Errc::io,
            dest_.string() + ": cannot rename the temporary file into place: " + errno_text(errno));
    tmp_.clear();
    unregister_temp(slot_);
    slot_ = -1;
    const fs::path dir = dest_.parent_path().empty() ? fs::path(".") : dest_.parent_path();
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

}  // namespace sutra::io
