// Faults while writing never cost the user anything: a full disk (RLIMIT_FSIZE), a missing or
// read-only output folder, SIGINT / SIGTERM mid-write (temp file removed, non-zero exit) and
// SIGKILL mid-write (nothing at the destination, or the older file there intact). The sutra
// binary runs as a child process so limits and signals hit it, not the test.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support/checks.hpp"
#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"
#include "support/st_builder.hpp"

using namespace sutra;
namespace fs = std::filesystem;

namespace {

using test::has_temp;
using test::listing;
using test::start_sutra;
using test::wait_sutra;

const test::Bytes kOld = {'o', 'l', 'd', ' ', 'f', 'i', 'l', 'e'};

}  // namespace

TEST_CASE("a full disk (file-size limit) fails cleanly and keeps the older output", "[faults]") {
    test::TempDir d, out, logs;
    test::StBuilder b;
    b.f32_filled("model.layers.0.mlp.up_proj.weight", {256, 1024});
    b.write(d / "m.safetensors");
    REQUIRE(test::run_sutra({"quantize", (d / "m.safetensors").string(), "-o",
                             (d / "m.qbin").string(), "--method", "rtn"})
                .code == 0);
    struct Case {
        std::vector<std::string> args;
        fs::path dest;
    };
    const std::vector<Case> cases = {
        {{"quantize", (d / "m.safetensors").string(), "-o", (out / "q.qbin").string(), "--method",
          "rtn", "--force"},
         out / "q.qbin"},
        {{"dequantize", (d / "m.qbin").string(), "-o", (out / "f.safetensors").string(), "--force"},
         out / "f.safetensors"},
    };
    for (const auto& c : cases) {
        for (bool older : {false, true}) {
            INFO(c.args[0] << (older ? " over an older file" : " into an empty folder"));
            if (older) test::write_bytes(c.dest, kOld);
            const auto r = wait_sutra(start_sutra(c.args, logs.path(), 16 * 1024), logs.path());
            test::check_one_line_error(r, {"write failed", "file-size limit"});
            CHECK_FALSE(has_temp(out.path()));
            if (older)
                CHECK(test::read_bytes(c.dest) == kOld);
            else
                CHECK_FALSE(fs::exists(c.dest));
            fs::remove(c.dest);
        }
    }
}

TEST_CASE("a missing or read-only output folder is refused before any work", "[faults]") {
    test::TempDir d, logs;
    test::StBuilder b;
    b.f32_filled("model.layers.0.mlp.up_proj.weight", {8, 64});
    b.write(d / "m.safetensors");
    const auto missing = test::run_sutra(
        {"quantize", (d / "m.safetensors").string(), "-o", (d / "nope" / "q.qbin").string()});
    test::check_one_line_error(missing, {"nope"});
    // Root writes through permission bits, so a folder the kernel itself refuses stands in
    // for a read-only one there.
    fs::path ro = d / "ro";
    if (::geteuid() == 0) {
        ro = "/proc/self";
    } else {
        fs::create_directory(ro);
        fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
    }
    const auto r = test::run_sutra(
        {"quantize", (d / "m.safetensors").string(), "-o", (ro / "q.qbin").string()});
    test::check_one_line_error(r, {ro.string()});
    CHECK_FALSE(fs::exists(ro / "q.qbin"));
    if (ro != "/proc/self") fs::permissions(ro, fs::perms::owner_all);
}

TEST_CASE("SIGINT, SIGTERM and SIGKILL mid-write leave nothing half-written", "[faults]") {
    test::TempDir d, out, logs;
    test::write_big_model(d / "m.safetensors");
    for (int sig : {SIGINT, SIGTERM, SIGKILL}) {
        for (bool older : {false, true}) {
            INFO("signal " << sig << (older ? " over an older file" : " into an empty folder"));
            const fs::path dest = out / "q.qbin";
            REQUIRE(listing(out.path()).empty());  // every round starts clean
            if (older) test::write_bytes(dest, kOld);
            const pid_t pid = start_sutra(
                {"--threads", "1", "--isa", "scalar", "quantize", (d / "m.safetensors").string(),
                 "-o", dest.string(), "--method", "rtn", "--force"},
                logs.path());
            // Wait for the temporary output: from then on the run is writing.
            const auto t0 = std::chrono::steady_clock::now();
            bool writing = false;
            while (!(writing = has_temp(out.path())) &&
                   std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30))
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            if (!writing) ::kill(pid, SIGKILL);
            REQUIRE(writing);
            ::kill(pid, sig);
            const auto r = wait_sutra(pid, logs.path());
            CHECK(r.code != 0);
            if (sig == SIGKILL) {
                CHECK(r.code == 128 + SIGKILL);
                // A killed process cannot clean up: its temporary file stays, never the
                // destination; remove it for the next round.
                for (const auto& name : listing(out.path()))
                    if (name.find(".sutra-tmp-") != std::string::npos) fs::remove(out / name);
            } else {
                CHECK(r.code == 128 + sig);  // dies of the same signal, after cleaning up
                CHECK_FALSE(has_temp(out.path()));
            }
            if (older)
                CHECK(test::read_bytes(dest) == kOld);
            else
                CHECK_FALSE(fs::exists(dest));
            fs::remove(dest);
        }
    }
}
