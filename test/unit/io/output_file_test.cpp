// Tests of OutputFile: the destination appears complete on commit() or not at all, existing
// files and the input are protected, and unusable folders are refused before anything is
// written.
#include "sutra/io/output_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/io/file.hpp"

namespace {

using sutra::test::listing;

namespace fs = std::filesystem;
using sutra::Errc;
using sutra::io::OutputFile;
using sutra::test::Bytes;
using sutra::test::read_bytes;
using sutra::test::TempDir;
using sutra::test::write_text;

std::span<const uint8_t> as_bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

TEST_CASE("output file: create, write, commit", "[io][output]") {
    TempDir tmp;
    const fs::path dest = tmp / "out.qbin";
    auto f = OutputFile::create(dest, false, {});
    SUTRA_REQUIRE_OK(f);
    CHECK(f->destination() == dest);
    const fs::path temp = f->temp_path();
    CHECK(temp.parent_path() == tmp.path());  // same folder: rename is atomic
    CHECK(temp.filename().string().rfind(".out.qbin.sutra-tmp-", 0) == 0);
    CHECK(fs::exists(temp));
    CHECK_FALSE(fs::exists(dest));  // nothing at the destination before commit

    SUTRA_REQUIRE_OK(f->write_at(6, as_bytes("world")));  // out of order
    SUTRA_REQUIRE_OK(f->write_at(0, as_bytes("hello ")));
    CHECK_FALSE(fs::exists(dest));
    SUTRA_REQUIRE_OK(f->commit());

    const Bytes got = read_bytes(dest);
    CHECK(std::string(got.begin(), got.end()) == "hello world");
    CHECK_FALSE(fs::exists(temp));
    CHECK(listing(tmp.path()) == std::vector<std::string>{"out.qbin"});
    CHECK((fs::status(dest).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
           fs::perms::others_read));
}

TEST_CASE("output file: a relative destination in the current folder", "[io][output]") {
    TempDir tmp;
    const fs::path cwd = fs::current_path();
    fs::current_path(tmp.path());
    {
        auto f = OutputFile::create("rel.qbin", false, {});
        if (f.ok()) {
            CHECK(f->write_at(0, as_bytes("x")).ok());
            CHECK(f->commit().ok());
        }
        fs::current_path(cwd);
        SUTRA_REQUIRE_OK(f);
    }
    CHECK(fs::exists(tmp / "rel.qbin"));
    CHECK(listing(tmp.path()) == std::vector<std::string>{"rel.qbin"});
}

TEST_CASE("output file: destroyed without commit leaves nothing", "[io][output]") {
    TempDir tmp;
    const fs::path dest = tmp / "out.qbin";
    fs::path temp;
    {
        auto f = OutputFile::create(dest, false, {});
        SUTRA_REQUIRE_OK(f);
        temp = f->temp_path();
        SUTRA_REQUIRE_OK(f->write_at(0, as_bytes("partial data")));
        CHECK(fs::exists(temp));
    }
    CHECK_FALSE(fs::exists(dest));
    CHECK_FALSE(fs::exists(temp));
    CHECK(listing(tmp.path()).empty());
}

TEST_CASE("output file: moved-from and moved-to objects clean up once", "[io][output]") {
    TempDir tmp;
    {
        auto a = OutputFile::create(tmp / "a.qbin", false, {});
        auto b = OutputFile::create(tmp / "b.qbin", false, {});
        SUTRA_REQUIRE_OK(a);
        SUTRA_REQUIRE_OK(b);
        CHECK(listing(tmp.path()).size() == 2);
        OutputFile moved(std::move(*a));
        *b = std::move(moved);  // b's own temporary is discarded
        CHECK(listing(tmp.path()).size() == 1);
        SUTRA_REQUIRE_OK(b->write_at(0, as_bytes("A")));
        SUTRA_REQUIRE_OK(b->commit());
    }
    CHECK(listing(tmp.path()) == std::vector<std::string>{"a.qbin"});
}

TEST_CASE("output file: an existing destination", "[io][output]") {
    TempDir tmp;
    const fs::path dest = tmp / "out.qbin";
    write_text(dest, "old contents");
    SECTION("without force: Errc::exists, untouched") {
        SUTRA_REQUIRE_ERROR(OutputFile::create(dest, false, {}), Errc::exists, "out.qbin",
                            "--force");
        const Bytes got = read_bytes(dest);
        CHECK(std::string(got.begin(), got.end()) == "old contents");
        CHECK(listing(tmp.path()) == std::vector<std::string>{"out.qbin"});
        SUTRA_REQUIRE_ERROR(sutra::io::check_output_path(dest, false, {}), Errc::exists,
                            "out.qbin");
    }
    SECTION("with force: replaced on commit only") {
        auto f = OutputFile::create(dest, true, {});
        SUTRA_REQUIRE_OK(f);
        SUTRA_REQUIRE_OK(f->write_at(0, as_bytes("new")));
        Bytes got = read_bytes(dest);
        CHECK(std::string(got.begin(), got.end()) == "old contents");
        SUTRA_REQUIRE_OK(f->commit());
        got = read_bytes(dest);
        CHECK(std::string(got.begin(), got.end()) == "new");
        CHECK(listing(tmp.path()) == std::vector<std::string>{"out.qbin"});
    }
    SECTION("with force, abandoned: the old file stays") {
        {
            auto f = OutputFile::create(dest, true, {});
            SUTRA_REQUIRE_OK(f);
            SUTRA_REQUIRE_OK(f->write_at(0, as_bytes("new")));
        }
        const Bytes got = read_bytes(dest);
        CHECK(std::string(got.begin(), got.end()) == "old contents");
        CHECK(listing(tmp.path()) == std::vector<std::string>{"out.qbin"});
    }
    SECTION("a dangling symlink counts as existing") {
        fs::create_symlink(tmp / "nowhere", tmp / "link.qbin");
        SUTRA_REQUIRE_ERROR(OutputFile::create(tmp / "link.qbin", false, {}), Errc::exists,
                            "link.qbin");
    }
    SECTION("a directory is refused even with force") {
        fs::create_directory(tmp / "dir.qbin");
        SUTRA_REQUIRE_ERROR(OutputFile::create(tmp / "dir.qbin", true, {}), Errc::invalid_argument,
                            "dir.qbin", "directory");
    }
}

TEST_CASE("output file: the input is never the output", "[io][output]") {
    TempDir tmp;
    const fs::path in = tmp / "model.safetensors";
    write_text(in, "input bytes");
    const std::vector<fs::path> inputs = {tmp / "other.safetensors", in};
    SECTION("same path, with force") {
        SUTRA_REQUIRE_ERROR(OutputFile::create(in, true, inputs), Errc::invalid_argument,
                            "model.safetensors", "input");
    }
    SECTION("same file through another spelling") {
        fs::create_directory(tmp / "sub");
        SUTRA_REQUIRE_ERROR(
            OutputFile::create(tmp / "sub" / ".." / "." / "model.safetensors", true, inputs),
            Errc::invalid_argument, "input");
    }
    SECTION("same file through a symlink") {
        fs::create_symlink(in, tmp / "link.qbin");
        SUTRA_REQUIRE_ERROR(OutputFile::create(tmp / "link.qbin", true, inputs),
                            Errc::invalid_argument, "input");
    }
    SECTION("same file through a hard link") {
        fs::create_hard_link(in, tmp / "hard.qbin");
        SUTRA_REQUIRE_ERROR(OutputFile::create(tmp / "hard.qbin", true, inputs),
                            Errc::invalid_argument, "input");
    }
    SECTION("dry-run check refuses it too") {
        SUTRA_REQUIRE_ERROR(sutra::io::check_output_path(in, true, inputs), Errc::invalid_argument,
                            "input");
    }
    const Bytes got = read_bytes(in);
    CHECK(std::string(got.begin(), got.end()) == "input bytes");
    for (const auto& name : listing(tmp.path()))
        CHECK(name.find("sutra-tmp") == std::string::npos);
}

TEST_CASE("output file: unusable folders", "[io][output]") {
    TempDir tmp;
    SECTION("a missing folder") {
        SUTRA_REQUIRE_ERROR(OutputFile::create(tmp / "no" / "such" / "out.qbin", false, {}),
                            Errc::not_found, "does not exist", (tmp / "no" / "such").string());
        CHECK_FALSE(fs::exists(tmp / "no"));
    }
    SECTION("a regular file used as a folder") {
        write_text(tmp / "file", "x");
        SUTRA_REQUIRE_ERROR(OutputFile::create(tmp / "file" / "out.qbin", true, {}),
                            Errc::not_found, (tmp / "file").string());
    }
    SECTION("an empty path") {
        SUTRA_REQUIRE_ERROR(OutputFile::create("", false, {}), Errc::invalid_argument, "-o");
    }
    SECTION("a folder where the OS refuses new files (/proc)") {
        // Even root cannot create files in /proc: the temporary file cannot be made.
        auto r = OutputFile::create("/proc/sutra-test-out.qbin", false, {});
        SUTRA_REQUIRE_ERROR(r, Errc::io, "/proc");
        CHECK_FALSE(fs::exists("/proc/sutra-test-out.qbin"));
    }
    SECTION("a read-only folder (chmod 0555)") {
        const fs::path ro = tmp / "ro";
        fs::create_directory(ro);
        fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                fs::perms::group_exec | fs::perms::others_read |
                                fs::perms::others_exec);
        auto r = OutputFile::create(ro / "out.qbin", false, {});
        if (::geteuid() == 0) {
            // Root ignores permission bits (CAP_DAC_OVERRIDE), so the folder is writable for us
            // and creating the output is legitimately allowed; only check it behaves cleanly.
            WARN(
                "running as root: permission bits do not apply; read-only folder refusal is "
                "not tested here (see the /proc case)");
            if (r.ok()) {
                SUTRA_REQUIRE_OK(r->commit());
                CHECK(listing(ro) == std::vector<std::string>{"out.qbin"});
            }
        } else {
            SUTRA_REQUIRE_ERROR(r, Errc::io, "cannot write", ro.string());
            CHECK(listing(ro).empty());
        }
        fs::permissions(ro, fs::perms::owner_all);
    }
}
