#pragma once
// Runs the `sutra` executable for CLI tests: exit code, stdout and stderr captured.
#include <sys/wait.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "support/paths.hpp"
#include "support/st_builder.hpp"

namespace sutra::test {

struct CliRun {
    int code = -1;
    std::string out;
    std::string err;
};

inline std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s)
        q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// `sutra ARGS...` with stdin from /dev/null; a signal gives code 128 + signal.
inline CliRun run_sutra(const std::vector<std::string>& args) {
    TempDir logs;
    std::string cmd = shell_quote(SUTRA_BINARY);
    for (const auto& a : args)
        cmd += " " + shell_quote(a);
    cmd += " </dev/null >" + shell_quote((logs / "stdout").string()) + " 2>" +
           shell_quote((logs / "stderr").string());
    const int status = std::system(cmd.c_str());
    CliRun r;
    if (status != -1 && WIFEXITED(status))
        r.code = WEXITSTATUS(status);
    else if (status != -1 && WIFSIGNALED(status))
        r.code = 128 + WTERMSIG(status);
    const Bytes o = read_bytes(logs / "stdout");
    const Bytes e = read_bytes(logs / "stderr");
    r.out.assign(o.begin(), o.end());
    r.err.assign(e.begin(), e.end());
    return r;
}

}  // namespace sutra::test
