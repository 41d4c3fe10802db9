#include "sutra/pipeline/bench_child.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>

#include "sutra/base/memory.hpp"

namespace sutra::pipeline {
namespace {

// The child's side: runs the work and writes {"ok", "value" | "code" + "message", rss} to fd.
[[noreturn]] void child_main(int fd, const std::function<Result<nlohmann::json>()>& work) {
    nlohmann::json out;
    try {
        reset_peak_rss();
        out["start_rss_bytes"] = current_rss_bytes();
        Result<nlohmann::json> r = work();
        out["peak_rss_bytes"] = peak_rss_bytes();
        if (r.ok()) {
            out["ok"] = true;
            out["value"] = std::move(*r);
        } else {
            out["ok"] = false;
            out["code"] = static_cast<int>(r.error().code);
            out["message"] = r.error().message;
        }
    } catch (const std::exception& e) {
        out["ok"] = false;
        out["code"] = static_cast<int>(Errc::internal);
        out["message"] = std::string("unexpected exception: ") + e.what();
    }
    const std::string text = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ::_exit(3);
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    ::_exit(0);
}

Errc errc_from(int v) {
    if (v < 0 || v > static_cast<int>(Errc::internal)) return Errc::internal;
    return static_cast<Errc>(v);
}

}  // namespace

Result<ChildResult> run_in_child(const std::string& what,
                                 const std::function<Result<nlohmann::json>()>& work) {
    int fds[2];
    if (::pipe(fds) != 0)
        return make_error(
            Errc::io, what + ": cannot create a pipe to a child process: " + std::strerror(errno));
    std::fflush(nullptr);  // nothing buffered is inherited twice
    const pid_t pid = ::fork();
    if (pid < 0) {
        const int e = errno;
        ::close(fds[0]);
        ::close(fds[1]);
        return make_error(Errc::io, what + ": cannot start a child process (" + std::strerror(e) +
                                        "); free some memory and retry");
    }
    if (pid == 0) {
        ::close(fds[0]);
        child_main(fds[1], work);
    }
    ::close(fds[1]);
    std::string text;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status))
        return make_error(Errc::internal,
                          what + ": the child process died of signal " +
                              std::to_string(WTERMSIG(status)) + " (" +
                              strsignal(WTERMSIG(status)) +
                              (WTERMSIG(status) == SIGKILL
                                   ? "; the out-of-memory killer? try --max-memory or fewer "
                                     "--calib-tokens"
                                   : "") +
                              ")");
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || j.is_discarded() || !j.is_object() ||
        !j.contains("ok"))
        return make_error(Errc::internal, what +
                                              ": the child process ended without a result "
                                              "(exit status " +
                                              std::to_string(WEXITSTATUS(status)) + ")");
    if (!j["ok"].get<bool>())
        return make_error(errc_from(j.value("code", static_cast<int>(Errc::internal))),
                          j.value("message", std::string("unknown error")));
    ChildResult r;
    r.value = std::move(j["value"]);
    r.peak_rss_bytes = j.value("peak_rss_bytes", uint64_t{0});
    r.start_rss_bytes = j.value("start_rss_bytes", uint64_t{0});
    return r;
}

}  // namespace sutra::pipeline
