#pragma once
// Running the sutra binary as a background child process, for tests that signal it, limit it
// or change its input while it runs.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support/checks.hpp"
#include "support/cli_run.hpp"
#include "support/st_builder.hpp"

namespace sutra::test {

namespace fs = std::filesystem;

// `sutra ARGS...` started in the background, stdout/stderr to files in `logs`; with a file
// size limit when fsize_limit > 0.
inline pid_t start_sutra(const std::vector<std::string>& args, const fs::path& logs,
                         rlim_t fsize_limit = 0) {
    // Everything the child needs is built before fork: between fork and exec a child of a
    // multi-threaded process may only call async-signal-safe functions (no malloc).
    const std::string out_path = (logs / "stdout").string(), err_path = (logs / "stderr").string();
    std::vector<std::string> all = {SUTRA_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    if (fsize_limit > 0) {
        struct rlimit rl {
            fsize_limit, fsize_limit
        };
        ::setrlimit(RLIMIT_FSIZE, &rl);
    }
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
}

// Waits for the child; one that runs past `limit` is killed (code 128 + SIGKILL) so that a
// hang fails the test instead of stalling it.
inline CliRun wait_sutra(pid_t pid, const fs::path& logs,
                         std::chrono::seconds limit = std::chrono::seconds(120)) {
    int status = 0;
    const auto t0 = std::chrono::steady_clock::now();
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() - t0 > limit) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    CliRun r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const auto o = read_bytes(logs / "stdout");
    const auto e = read_bytes(logs / "stderr");
    r.out.assign(o.begin(), o.end());
    r.err.assign(e.begin(), e.end());
    return r;
}

inline bool has_temp(const fs::path& dir) {
    for (const auto& name : listing(dir))
        if (name.find(".sutra-tmp-") != std::string::npos) return true;
    return false;
}

// A 32 MB F32 checkpoint: long enough to quantize (one thread, scalar kernels) that a signal
// sent when the temporary output appears lands mid-write.
inline void write_big_model(const fs::path& p) {
    StBuilder b;
    b.f32_filled("model.layers.0.mlp.up_proj.weight", {2048, 4096});
    b.f32("model.norm.weight", {4}, {1, 1, 1, 1});
    b.write(p);
}

}  // namespace sutra::test
