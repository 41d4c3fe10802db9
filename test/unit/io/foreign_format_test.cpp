// Files people mistake for safetensors are named, with the fix, from their first bytes; and a
// valid safetensors file is never mistaken for one of them.
#include "sutra/io/foreign_format.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "support/st_builder.hpp"
#include "sutra/io/safetensors_header.hpp"

namespace {

using sutra::test::Bytes;

Bytes bytes_of(const std::string& s) {
    return Bytes(s.begin(), s.end());
}

std::string describe(const std::string& s) {
    const Bytes b = bytes_of(s);
    return sutra::io::describe_foreign_format(b).value_or("");
}

}  // namespace

TEST_CASE("foreign formats: each is named with what to do", "[io][foreign]") {
    const std::string lfs =
        "version https://git-lfs.github.com/spec/v1\n"
        "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
        "size 2200119864\n";
    CHECK_THAT(describe(lfs), Catch::Contains("Git LFS pointer") &&
                                  Catch::Contains("run `git lfs pull`") &&
                                  Catch::Contains("2200119864 bytes"));
    CHECK_THAT(describe(std::string("GGUF\x03\0\0\0", 8) + std::string(32, '\0')),
               Catch::Contains("a GGUF file (llama.cpp)"));
    const std::string zip_head = std::string("PK\x03\x04\x14\0\0\0\x08\0", 10) +
                                 std::string(16, '\0') + std::string("\x10\0\0\0", 4) +
                                 "archive/data.pkl";
    CHECK_THAT(describe(zip_head),
               Catch::Contains("a PyTorch zip checkpoint (pytorch_model.bin)") &&
                   Catch::Contains("convert it to safetensors"));
    CHECK_THAT(describe(std::string("PK\x03\x04", 4) + std::string(26, '\0') + "readme.txt"),
               Catch::Contains("a ZIP archive"));
    for (char protocol : {'\x02', '\x03', '\x04', '\x05'}) {
        INFO("pickle protocol " << int(protocol));
        CHECK_THAT(describe(std::string("\x80", 1) + protocol +
                            "\x8a\nl\xfc\x9c"
                            "F"),
                   Catch::Contains("pickle") && Catch::Contains("PyTorch"));
    }
    CHECK(describe(std::string("\x80\x01", 2)).empty());  // not a pickle protocol torch writes
    CHECK_THAT(describe("<!DOCTYPE html>\n<html><head><title>404</title>"),
               Catch::Contains("an HTML page (a failed download?)"));
    CHECK_THAT(describe("\n\n  <html lang=\"en\">"), Catch::Contains("an HTML page"));
    CHECK_THAT(describe("\xef\xbb\xbf<!doctype HTML>"), Catch::Contains("an HTML page"));
    CHECK_THAT(describe("<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code>"),
               Catch::Contains("XML"));
    CHECK_THAT(describe("\x93NUMPY\x01\0v\0{'descr': '<f4'"), Catch::Contains("NumPy"));
    CHECK_THAT(describe("\x1f\x8b\x08\0\0\0\0\0"), Catch::Contains("gzip"));
    CHECK_THAT(describe("{\"a\":{\"dtype\":\"F32\"}}"), Catch::Contains("a JSON text file"));
    // Any other text: the error reply a download tool saved, quoted.
    CHECK_THAT(
        describe("Entry not found"),
        Catch::Contains("a text file, not a safetensors file (it begins \"Entry not found\""));
    CHECK_THAT(describe("\n  Access denied\nrequest id 42\n"),
               Catch::Contains("(it begins \"Access denied\";"));
    std::string tar(512, '\0');
    tar.replace(0, 17, "model.safetensors");
    tar.replace(257, 5, "ustar");
    CHECK_THAT(describe(tar), Catch::Contains("a tar archive"));
}

TEST_CASE("foreign formats: other bytes are not named", "[io][foreign]") {
    CHECK(describe("").empty());
    CHECK(describe(std::string(100, '\0')).empty());
    CHECK(describe(std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8)).empty());
    CHECK(describe(std::string(8, '\xff') + "{}").empty());            // not UTF-8, so not text
    CHECK(describe("caf\xc3\xa9 \xe2\x82").find("a text file") == 0);  // UTF-8, cut short
    // Valid safetensors files of every small header length.
    sutra::test::StBuilder b;
    b.f32("w", {2}, {1.0f, 2.0f});
    CHECK_FALSE(sutra::io::describe_foreign_format(b.bytes()));
    CHECK_FALSE(sutra::io::describe_foreign_format(sutra::test::st_raw("{}")));
}

TEST_CASE("foreign formats: the parser names them instead of the header error", "[io][foreign]") {
    const Bytes lfs =
        bytes_of("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n");
    auto r = sutra::io::parse_safetensors_bytes(lfs, "model.safetensors");
    SUTRA_REQUIRE_ERROR(r, sutra::Errc::bad_format, "model.safetensors: this is a Git LFS pointer");
    // A pickle whose first 8 bytes make a small header length still gets named.
    Bytes pickle = {0x80, 0x02, 0x10, 0, 0, 0, 0, 0};
    pickle.resize(64, 'x');
    SUTRA_REQUIRE_ERROR(sutra::io::parse_safetensors_bytes(pickle, "p.bin"),
                        sutra::Errc::bad_format, "p.bin: a Python pickle");
    // A damaged safetensors file keeps its own error, even when its length prefix reads as
    // the start of a JSON text ('{"' is the length 8827).
    Bytes damaged = {'{', '"', 0, 0, 0, 0, 0, 0, '{'};
    damaged.resize(8 + 8827, 'x');
    auto d = sutra::io::parse_safetensors_bytes(damaged, "d.safetensors");
    SUTRA_REQUIRE_ERROR(d, sutra::Errc::bad_format, "header is not valid JSON");
    CHECK_THAT(d.error().message, !Catch::Contains("JSON text file"));
    CHECK(sutra::io::looks_like_safetensors(damaged, damaged.size()));
    CHECK_FALSE(sutra::io::looks_like_safetensors(damaged, 100));  // length past the end
    // A valid file is parsed, whatever it starts with.
    sutra::test::StBuilder b;
    b.tensor("w", "U8", {4}, Bytes{'G', 'G', 'U', 'F'});
    SUTRA_REQUIRE_OK(sutra::io::parse_safetensors_bytes(b.bytes(), "ok.safetensors"));
}
