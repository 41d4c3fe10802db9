// An input that changes while sutra reads it — rewritten in place or truncated — is detected
// and reported (exit 2, one line naming the file), never read as garbage into an output.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/process.hpp"

using namespace sutra;
namespace fs = std::filesystem;

TEST_CASE("an input rewritten or truncated during quantize is reported, nothing written",
          "[faults]") {
    test::TempDir d, out, logs;
    for (const char* change : {"rewritten", "truncated"}) {
        INFO(change);
        test::write_big_model(d / "m.safetensors");
        const fs::path dest = out / "q.qbin";
        const pid_t pid = test::start_sutra(
            {"--threads", "1", "--isa", "scalar", "quantize", (d / "m.safetensors").string(), "-o",
             dest.string(), "--method", "rtn"},
            logs.path());
        const auto t0 = std::chrono::steady_clock::now();
        bool writing = false;
        while (!(writing = test::has_temp(out.path())) &&
               std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30))
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        if (!writing) ::kill(pid, SIGKILL);
        REQUIRE(writing);
        const auto size = fs::file_size(d / "m.safetensors");
        if (std::string(change) == "rewritten") {
            // Same size, other bytes, in place (the same inode the reader holds open).
            std::fstream f(d / "m.safetensors", std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(static_cast<std::streamoff>(size / 2));
            const std::string junk(4096, '\x7f');
            f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
        } else {
            fs::resize_file(d / "m.safetensors", size / 3);
        }
        const auto r = test::wait_sutra(pid, logs.path());
        test::check_one_line_error(r, {"m.safetensors"});
        CHECK_FALSE(fs::exists(dest));
        CHECK_FALSE(test::has_temp(out.path()));
    }
}
