#pragma once
// Small checks shared by the tests: the lines of a text, a folder's listing, and the CLI's
// error contract.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include "support/cli_run.hpp"

namespace sutra::test {

// The lines of s, without their newlines.
inline std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> v;
    size_t start = 0;
    while (start < s.size()) {
        size_t nl = s.find('\n', start);
        if (nl == std::string::npos) nl = s.size();
        v.push_back(s.substr(start, nl - start));
        start = nl + 1;
    }
    return v;
}

// The names in a folder, sorted.
inline std::vector<std::string> listing(const std::filesystem::path& dir) {
    std::vector<std::string> v;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
}

// The CLI error contract: exit 2, stdout empty, exactly one non-empty stderr line
// "sutra: error: ..." containing every given word.
inline void check_one_line_error(const CliRun& r, std::initializer_list<std::string> words) {
    INFO("stdout: " << r.out);
    INFO("stderr: " << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    const auto ls = lines(r.err);
    CHECK(ls.size() == 1);
    if (ls.empty()) return;
    CHECK(ls[0].rfind("sutra: error: ", 0) == 0);
    CHECK(ls[0].size() > std::string("sutra: error: ").size());
    CHECK(r.err.back() == '\n');
    for (const auto& w : words)
        CHECK_THAT(ls[0], Catch::Contains(w));
}

}  // namespace sutra::test
