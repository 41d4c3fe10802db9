#pragma once
// Running the independent Python references (test/reference/*.py) from tests: a command run
// through the shell with stdin from /dev/null and its output captured in a folder, and the
// python3 that imports numpy ($SUTRA_PYTHON, then /usr/bin/python3 — Debian's, where
// python3-numpy installs — then python3 on the PATH).
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "support/cli_run.hpp"

namespace sutra::test {

// `argv` through the shell; stdout and stderr go to logs/stdout and logs/stderr. The exit
// code, or -1 when it could not run.
inline int run_command(const std::vector<std::string>& argv, const std::filesystem::path& logs) {
    std::string cmd;
    for (const auto& a : argv)
        cmd += (cmd.empty() ? "" : " ") + shell_quote(a);
    cmd += " </dev/null >" + shell_quote((logs / "stdout").string()) + " 2>" +
           shell_quote((logs / "stderr").string());
    const int status = std::system(cmd.c_str());
    if (status == -1 || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

inline std::optional<std::string> python_with_numpy() {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("SUTRA_PYTHON"); env && *env) candidates.emplace_back(env);
    candidates.emplace_back("/usr/bin/python3");
    candidates.emplace_back("python3");
    TempDir logs;
    for (const auto& c : candidates)
        if (run_command({c, "-c", "import numpy"}, logs.path()) == 0) return c;
    return std::nullopt;
}

}  // namespace sutra::test
