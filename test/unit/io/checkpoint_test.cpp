// Tests of Checkpoint: single files, folders, sharded checkpoints with an index, dtype
// conversion, chunked reads, and the refusal of everything that is not a plain readable file.
#include "sutra/io/checkpoint.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/base/half.hpp"

namespace {

namespace fs = std::filesystem;
using sutra::Errc;
using sutra::io::Checkpoint;
using sutra::test::Bytes;
using sutra::test::StBuilder;
using sutra::test::TempDir;
using sutra::test::write_text;

constexpr const char* kShard1 = "model-00001-of-00002.safetensors";
constexpr const char* kShard2 = "model-00002-of-00002.safetensors";
constexpr const char* kIndex = "model.safetensors.index.json";

StBuilder shard1() {
    StBuilder b;
    b.meta("format", "pt");
    b.f32("model.layers.0.mlp.up_proj.weight", {2, 3}, {1, 2, 3, 4, 5, 6});
    b.f32("model.norm.weight", {2}, {0.5f, -0.5f});
    return b;
}

StBuilder shard2() {
    StBuilder b;
    b.f32("lm_head.weight", {3, 2}, {10, 20, 30, 40, 50, 60});
    return b;
}

std::string index_json(const std::vector<std::pair<std::string, std::string>>& map) {
    std::string s = "{\"metadata\":{\"total_size\":44},\"weight_map\":{";
    for (size_t i = 0; i < map.size(); ++i)
        s += (i ? "," : "") + sutra::test::json_str(map[i].first) + ":" +
             sutra::test::json_str(map[i].second);
    return s + "}}";
}

const std::vector<std::pair<std::string, std::string>> kGoodMap = {
    {"lm_head.weight", kShard2},
    {"model.layers.0.mlp.up_proj.weight", kShard1},
    {"model.norm.weight", kShard1},
};

// A sharded checkpoint in `dir`: two shards and the index.
void make_sharded(const fs::path& dir,
                  const std::vector<std::pair<std::string, std::string>>& map = kGoodMap) {
    shard1().write(dir / kShard1);
    shard2().write(dir / kShard2);
    write_text(dir / kIndex, index_json(map));
}

std::vector<std::string> names(const Checkpoint& ck) {
    std::vector<std::string> v;
    for (const auto& t : ck.tensors())
        v.push_back(t.name);
    return v;
}

}  // namespace

TEST_CASE("checkpoint: a single .safetensors file", "[io][checkpoint]") {
    TempDir tmp;
    const fs::path p = tmp / "model.safetensors";
    StBuilder b = shard1();
    b.write(p);
    auto ck = Checkpoint::open(p);
    SUTRA_REQUIRE_OK(ck);
    CHECK(names(*ck) ==
          std::vector<std::string>{"model.layers.0.mlp.up_proj.weight", "model.norm.weight"});
    REQUIRE(ck->files().size() == 1);
    CHECK(ck->files()[0].path() == p);
    CHECK(ck->model_dir() == tmp.path());
    CHECK(ck->total_file_bytes() == fs::file_size(p));
    REQUIRE(ck->metadata().size() == 1);
    CHECK(ck->metadata()[0].second == "pt");

    const auto* up = ck->find("model.layers.0.mlp.up_proj.weight");
    REQUIRE(up != nullptr);
    CHECK(up->shape == std::vector<uint64_t>{2, 3});
    CHECK(up->numel == 6);
    CHECK(up->nbytes == 24);
    CHECK(up->shard == 0);
    CHECK(up->file_offset == 8 + b.header().size());
    const auto* norm = ck->find("model.norm.weight");
    REQUIRE(norm != nullptr);
    CHECK(norm->file_offset == 8 + b.header().size() + 24);
    CHECK(ck->find("missing") == nullptr);

    auto v = ck->read_all_f32("model.layers.0.mlp.up_proj.weight");
    SUTRA_REQUIRE_OK(v);
    CHECK(*v == std::vector<float>{1, 2, 3, 4, 5, 6});
    auto n = ck->read_all_f32(*norm);
    SUTRA_REQUIRE_OK(n);
    CHECK(*n == std::vector<float>{0.5f, -0.5f});
    SUTRA_REQUIRE_ERROR(ck->read_all_f32("nope.weight"), Errc::not_found, "nope.weight");
    SUTRA_REQUIRE_OK(ck->check_unchanged());
}

TEST_CASE("checkpoint: a relative file name has model_dir '.'", "[io][checkpoint]") {
    TempDir tmp;
    shard2().write(tmp / "m.safetensors");
    const fs::path cwd = fs::current_path();
    fs::current_path(tmp.path());
    auto ck = Checkpoint::open("m.safetensors");
    fs::current_path(cwd);
    SUTRA_REQUIRE_OK(ck);
    CHECK(ck->model_dir() == fs::path("."));
    auto v = ck->read_all_f32("lm_head.weight");  // the fd stays valid after the chdir
    SUTRA_REQUIRE_OK(v);
    CHECK((*v)[5] == 60.0f);
}

TEST_CASE("checkpoint: a folder holding one .safetensors file", "[io][checkpoint]") {
    TempDir tmp;
    shard2().write(tmp / "weights.safetensors");
    write_text(tmp / "config.json", "{}");
    write_text(tmp / "README.md", "hello");
    auto ck = Checkpoint::open(tmp.path());
    SUTRA_REQUIRE_OK(ck);
    CHECK(names(*ck) == std::vector<std::string>{"lm_head.weight"});
    CHECK(ck->model_dir() == tmp.path());
    CHECK(ck->files()[0].path().filename() == "weights.safetensors");
}

TEST_CASE("checkpoint: folder problems", "[io][checkpoint]") {
    TempDir tmp;
    SECTION("an empty folder") {
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::not_found, tmp.path().string(),
                            "no *.safetensors");
    }
    SECTION("a folder with other files only") {
        write_text(tmp / "config.json", "{}");
        write_text(tmp / "model.bin", "x");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::not_found, "no *.safetensors");
    }
    SECTION("two .safetensors files and no index") {
        shard1().write(tmp / "a.safetensors");
        shard2().write(tmp / "b.safetensors");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::invalid_argument, "2",
                            "model.safetensors.index.json");
    }
    SECTION("a folder named like a .safetensors file") {
        fs::create_directory(tmp / "model.safetensors");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::invalid_argument,
                            "model.safetensors", "directory");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp / "model.safetensors"), Errc::not_found,
                            "no *.safetensors");
    }
    SECTION("a missing path") {
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp / "nothing.safetensors"), Errc::not_found,
                            "nothing.safetensors");
    }
    SECTION("a broken header names the file") {
        sutra::test::write_bytes(tmp / "bad.safetensors", sutra::test::st_raw("{}", {}, 1000));
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp / "bad.safetensors"), Errc::bad_format,
                            "bad.safetensors", "header length 1000");
    }
    SECTION("a file shorter than 8 bytes") {
        sutra::test::write_bytes(tmp / "short.safetensors", Bytes{1, 2, 3});
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp / "short.safetensors"), Errc::bad_format,
                            "short.safetensors", "3 bytes");
        // Text, though, is named as such (an error reply saved by a download tool).
        write_text(tmp / "short.txt", "abc");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp / "short.txt"), Errc::bad_format, "short.txt",
                            "a text file, not a safetensors file (it begins \"abc\"");
    }
}

TEST_CASE("checkpoint: sharded, with an index", "[io][checkpoint]") {
    TempDir tmp;
    make_sharded(tmp.path());
    for (const fs::path& p : {tmp.path(), tmp / kIndex}) {
        INFO("opened as " << p);
        auto ck = Checkpoint::open(p);
        SUTRA_REQUIRE_OK(ck);
        REQUIRE(ck->files().size() == 2);
        CHECK(ck->model_dir() == tmp.path());
        REQUIRE(ck->tensors().size() == 3);
        CHECK(ck->total_file_bytes() ==
              fs::file_size(tmp / kShard1) + fs::file_size(tmp / kShard2));
        const auto* head = ck->find("lm_head.weight");
        const auto* up = ck->find("model.layers.0.mlp.up_proj.weight");
        const auto* norm = ck->find("model.norm.weight");
        REQUIRE(head != nullptr);
        REQUIRE(up != nullptr);
        REQUIRE(norm != nullptr);
        CHECK(ck->files()[head->shard].path().filename() == kShard2);
        CHECK(ck->files()[up->shard].path().filename() == kShard1);
        CHECK(norm->shard == up->shard);
        CHECK(head->file_offset == 8 + shard2().header().size());
        auto h = ck->read_all_f32(*head);
        SUTRA_REQUIRE_OK(h);
        CHECK(*h == std::vector<float>{10, 20, 30, 40, 50, 60});
        auto n = ck->read_all_f32(*norm);
        SUTRA_REQUIRE_OK(n);
        CHECK(*n == std::vector<float>{0.5f, -0.5f});
        SUTRA_REQUIRE_OK(ck->check_unchanged());
    }
}

TEST_CASE("checkpoint: shards come in the order they first appear in the index",
          "[io][checkpoint]") {
    // checkpoint.hpp: "shards in the order they first appear in the index, and within a shard in
    // header order". Here the index lists shard 1's tensor first but alphabetical order would
    // put shard 2's first.
    TempDir tmp;
    StBuilder s1, s2;
    s1.f32("z.second", {1}, {1}).f32("y.first", {1}, {2});
    s2.f32("a.weight", {1}, {3});
    s1.write(tmp / "one.safetensors");
    s2.write(tmp / "two.safetensors");
    write_text(tmp / kIndex,
               "{\"weight_map\":{\"z.second\":\"one.safetensors\","
               "\"a.weight\":\"two.safetensors\",\"y.first\":\"one.safetensors\"}}");
    auto ck = Checkpoint::open(tmp.path());
    SUTRA_REQUIRE_OK(ck);
    REQUIRE(ck->files().size() == 2);
    CHECK(ck->files()[0].path().filename() == "one.safetensors");
    CHECK(names(*ck) == std::vector<std::string>{"z.second", "y.first", "a.weight"});
}

TEST_CASE("checkpoint: a shard in a subfolder of the index's folder", "[io][checkpoint]") {
    TempDir tmp;
    fs::create_directory(tmp / "shards");
    shard1().write(tmp / "shards" / kShard1);
    shard2().write(tmp / kShard2);
    write_text(tmp / kIndex,
               index_json({{"lm_head.weight", kShard2},
                           {"model.layers.0.mlp.up_proj.weight", std::string("shards/") + kShard1},
                           {"model.norm.weight", std::string("shards/") + kShard1}}));
    auto ck = Checkpoint::open(tmp.path());
    SUTRA_REQUIRE_OK(ck);
    CHECK(ck->tensors().size() == 3);
}

TEST_CASE("checkpoint: index errors", "[io][checkpoint]") {
    TempDir tmp;
    const fs::path index = tmp / kIndex;
    SECTION("a missing shard") {
        make_sharded(tmp.path());
        fs::remove(tmp / kShard2);
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::not_found, kShard2, "missing");
    }
    SECTION("a tensor in two shards") {
        shard1().write(tmp / kShard1);
        StBuilder s2 = shard2();
        s2.f32("model.norm.weight", {2}, {1, 1});
        s2.write(tmp / kShard2);
        write_text(index, index_json(kGoodMap));
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, "model.norm.weight",
                            kShard2);
    }
    SECTION("a tensor in the index but not in its shard") {
        auto map = kGoodMap;
        map.emplace_back("model.extra.weight", kShard1);
        make_sharded(tmp.path(), map);
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, "model.extra.weight",
                            kShard1, "does not hold");
    }
    SECTION("a tensor in the index under the wrong shard") {
        auto map = kGoodMap;
        map[0].second = kShard1;  // lm_head.weight is in shard 2
        map.emplace_back("unused", kShard2);
        make_sharded(tmp.path(), map);
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, "lm_head.weight");
    }
    SECTION("a tensor in a shard but not in the index") {
        auto map = kGoodMap;
        map.pop_back();  // model.norm.weight
        make_sharded(tmp.path(), map);
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, "model.norm.weight",
                            "not listed", kShard1);
    }
    SECTION("a '..' shard path") {
        shard2().write(tmp / kShard2);
        fs::create_directory(tmp / "model");
        write_text(tmp / "model" / kIndex,
                   index_json({{"lm_head.weight", std::string("../") + kShard2}}));
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp / "model"), Errc::bad_format, "..", "not allowed");
    }
    SECTION("a '..' in the middle of a shard path") {
        shard2().write(tmp / kShard2);
        fs::create_directories(tmp / "model" / "sub");
        write_text(tmp / "model" / kIndex,
                   index_json({{"lm_head.weight", std::string("sub/../../") + kShard2}}));
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp / "model"), Errc::bad_format, "..");
    }
    SECTION("an absolute shard path") {
        shard2().write(tmp / kShard2);
        fs::create_directory(tmp / "model");
        write_text(tmp / "model" / kIndex,
                   index_json({{"lm_head.weight", (tmp / kShard2).string()}}));
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp / "model"), Errc::bad_format, "relative");
    }
    SECTION("an empty shard path") {
        write_text(index, index_json({{"lm_head.weight", ""}}));
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, "relative");
    }
    SECTION("an index that is not JSON") {
        shard1().write(tmp / kShard1);
        write_text(index, "weight_map: {}");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, kIndex);
    }
    SECTION("an empty index file") {
        write_text(index, "");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, kIndex);
    }
    SECTION("an index without weight_map") {
        make_sharded(tmp.path());
        write_text(index, "{\"metadata\":{}}");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, kIndex, "weight_map");
    }
    SECTION("an index whose root is an array") {
        write_text(index, "[{\"weight_map\":{}}]");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, "weight_map");
    }
    SECTION("weight_map is not an object") {
        write_text(index, "{\"weight_map\":[\"a\"]}");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, "weight_map");
    }
    SECTION("a shard name that is not a string") {
        write_text(index, "{\"weight_map\":{\"lm_head.weight\":2}}");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, "lm_head.weight");
    }
    SECTION("an empty weight_map") {
        write_text(index, "{\"weight_map\":{}}");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, "no tensors");
    }
    SECTION("a duplicate key in the index") {
        make_sharded(tmp.path());
        write_text(index, "{\"weight_map\":{\"lm_head.weight\":\"" + std::string(kShard2) +
                              "\",\"lm_head.weight\":\"" + kShard1 + "\"}}");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, "duplicate",
                            "lm_head.weight");
    }
    SECTION("an index with a byte-order mark") {
        make_sharded(tmp.path());
        write_text(index, "\xef\xbb\xbf" + index_json(kGoodMap));
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, "byte-order mark");
    }
    SECTION("a shard with a broken header names the shard") {
        make_sharded(tmp.path());
        sutra::test::write_bytes(tmp / kShard2, sutra::test::st_raw("{\"x\":1}"));
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::bad_format, kShard2);
    }
}

TEST_CASE("checkpoint: F16 and BF16 are converted to f32 exactly", "[io][checkpoint]") {
    TempDir tmp;
    StBuilder b;
    // f16: 1.5, -2, 65504 (max), 2^-24 (smallest subnormal), -0, +inf
    b.tensor("h", "F16", {2, 3},
             sutra::test::u16_bytes({0x3E00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00}));
    // bf16: 1.5, -2, 65280, largest finite, 2^-133 (subnormal), -inf
    b.tensor("b", "BF16", {6},
             sutra::test::u16_bytes({0x3FC0, 0xC000, 0x477F, 0x7F7F, 0x0001, 0xFF80}));
    b.write(tmp / "m.safetensors");
    auto ck = Checkpoint::open(tmp / "m.safetensors");
    SUTRA_REQUIRE_OK(ck);

    auto h = ck->read_all_f32("h");
    SUTRA_REQUIRE_OK(h);
    CHECK((*h)[0] == 1.5f);
    CHECK((*h)[1] == -2.0f);
    CHECK((*h)[2] == 65504.0f);
    CHECK((*h)[3] == std::ldexp(1.0f, -24));
    CHECK((*h)[4] == 0.0f);
    CHECK(std::signbit((*h)[4]));
    CHECK(std::isinf((*h)[5]));
    CHECK((*h)[5] > 0);

    auto bf = ck->read_all_f32("b");
    SUTRA_REQUIRE_OK(bf);
    CHECK((*bf)[0] == 1.5f);
    CHECK((*bf)[1] == -2.0f);
    CHECK((*bf)[2] == 65280.0f);
    CHECK((*bf)[3] == sutra::bits_f32(0x7F7F0000u));
    CHECK((*bf)[3] == std::ldexp(255.0f, 120));
    CHECK((*bf)[4] == std::ldexp(1.0f, -133));
    CHECK(std::isinf((*bf)[5]));
    CHECK((*bf)[5] < 0);

    SECTION("a chunk in the middle") {
        std::vector<float> out(3, 99.0f);
        SUTRA_REQUIRE_OK(ck->read_f32(*ck->find("h"), 1, out));
        CHECK(out == std::vector<float>{-2.0f, 65504.0f, std::ldexp(1.0f, -24)});
        std::vector<float> one(1);
        SUTRA_REQUIRE_OK(ck->read_f32(*ck->find("b"), 2, one));
        CHECK(one[0] == 65280.0f);
        std::vector<float> none;
        SUTRA_REQUIRE_OK(ck->read_f32(*ck->find("b"), 6, none));
    }
    SECTION("reads past the end of a tensor are refused") {
        std::vector<float> out(2);
        SUTRA_REQUIRE_ERROR(ck->read_f32(*ck->find("h"), 5, out), Errc::internal, "'h'");
        SUTRA_REQUIRE_ERROR(ck->read_f32(*ck->find("h"), 7, std::span<float>()), Errc::internal,
                            "'h'");
        std::vector<uint8_t> raw(13);
        SUTRA_REQUIRE_ERROR(ck->read_raw(*ck->find("h"), 0, raw), Errc::internal, "'h'");
        SUTRA_REQUIRE_ERROR(ck->read_raw(*ck->find("h"), ~0ull, std::span<uint8_t>(raw.data(), 1)),
                            Errc::internal, "'h'");
    }
}

TEST_CASE("checkpoint: raw and f32 reads of a chunk in the middle", "[io][checkpoint]") {
    TempDir tmp;
    StBuilder b;
    b.tensor("bytes", "U8", {4, 8}, sutra::test::ramp_bytes(32, 100));
    b.f32("f", {2, 4}, {0, 1, 2, 3, 4, 5, 6, 7});
    b.tensor("ints", "I32", {2}, Bytes(8, 0));
    b.write(tmp / "m.safetensors");
    auto ck = Checkpoint::open(tmp / "m.safetensors");
    SUTRA_REQUIRE_OK(ck);

    std::vector<uint8_t> raw(5);
    SUTRA_REQUIRE_OK(ck->read_raw(*ck->find("bytes"), 9, raw));
    CHECK(raw == std::vector<uint8_t>{109, 110, 111, 112, 113});
    SUTRA_REQUIRE_OK(ck->read_raw(*ck->find("bytes"), 27, raw));
    CHECK(raw == std::vector<uint8_t>{127, 128, 129, 130, 131});

    std::vector<float> f(3);
    SUTRA_REQUIRE_OK(ck->read_f32(*ck->find("f"), 3, f));
    CHECK(f == std::vector<float>{3, 4, 5});
    SUTRA_REQUIRE_OK(ck->read_f32(*ck->find("f"), 5, f));
    CHECK(f == std::vector<float>{5, 6, 7});

    std::vector<float> i(2);
    SUTRA_REQUIRE_ERROR(ck->read_f32(*ck->find("ints"), 0, i), Errc::unsupported, "'ints'", "I32");
    SUTRA_REQUIRE_ERROR(ck->read_all_f32("bytes"), Errc::unsupported, "'bytes'", "U8");
}

TEST_CASE("checkpoint: inputs that are not regular files are refused", "[io][checkpoint]") {
    TempDir tmp;
    SECTION("a FIFO (must not hang)") {
        const fs::path fifo = tmp / "pipe.safetensors";
        REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
        SUTRA_REQUIRE_ERROR(Checkpoint::open(fifo), Errc::invalid_argument, "pipe.safetensors",
                            "not a regular file");
    }
    SECTION("a FIFO as the only .safetensors of a folder") {
        REQUIRE(::mkfifo((tmp / "pipe.safetensors").c_str(), 0644) == 0);
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::invalid_argument,
                            "not a regular file");
    }
    SECTION("a FIFO as the index") {
        REQUIRE(::mkfifo((tmp / kIndex).c_str(), 0644) == 0);
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::invalid_argument, kIndex,
                            "not a regular file");
    }
    SECTION("a FIFO as a shard") {
        make_sharded(tmp.path());
        fs::remove(tmp / kShard2);
        REQUIRE(::mkfifo((tmp / kShard2).c_str(), 0644) == 0);
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp.path()), Errc::invalid_argument, kShard2,
                            "not a regular file");
    }
    SECTION("/dev/zero") {
        SUTRA_REQUIRE_ERROR(Checkpoint::open("/dev/zero"), Errc::invalid_argument, "/dev/zero",
                            "not a regular file");
    }
    SECTION("a dangling symlink") {
        fs::create_symlink(tmp / "gone.safetensors", tmp / "link.safetensors");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(tmp / "link.safetensors"), Errc::not_found,
                            "link.safetensors", "dangling");
    }
    SECTION("a symlink to a valid file is followed") {
        shard2().write(tmp / "real.safetensors");
        fs::create_directory(tmp / "other");
        fs::create_symlink(tmp / "real.safetensors", tmp / "other" / "link.safetensors");
        auto ck = Checkpoint::open(tmp / "other" / "link.safetensors");
        SUTRA_REQUIRE_OK(ck);
        CHECK(ck->tensors().size() == 1);
    }
}

TEST_CASE("checkpoint: a file truncated after open gives a read error", "[io][checkpoint]") {
    TempDir tmp;
    const fs::path p = tmp / "m.safetensors";
    StBuilder b;
    b.f32_filled("w", {64, 64});
    b.write(p);
    auto ck = Checkpoint::open(p);
    SUTRA_REQUIRE_OK(ck);
    const auto* w = ck->find("w");
    REQUIRE(w != nullptr);
    fs::resize_file(p, w->file_offset + 100);
    std::vector<float> out(16);
    SUTRA_REQUIRE_OK(ck->read_f32(*w, 0, out));  // bytes [0, 64): still inside the file
    // bytes [64, 128): the file now ends at 100
    SUTRA_REQUIRE_ERROR(ck->read_f32(*w, 16, out), Errc::bad_format, "m.safetensors", "truncated",
                        std::to_string(w->file_offset + 100));
    SUTRA_REQUIRE_ERROR(ck->read_f32(*w, 1000, out), Errc::bad_format, "truncated");
    SUTRA_REQUIRE_ERROR(ck->check_unchanged(), Errc::bad_format, "m.safetensors", "changed");
}

TEST_CASE("checkpoint: check_unchanged detects a rewritten file", "[io][checkpoint]") {
    TempDir tmp;
    const fs::path p = tmp / "m.safetensors";
    shard1().write(p);
    auto ck = Checkpoint::open(p);
    SUTRA_REQUIRE_OK(ck);
    SUTRA_REQUIRE_OK(ck->check_unchanged());
    SECTION("different size") {
        shard2().write(p);  // same inode, truncated and rewritten
        SUTRA_REQUIRE_ERROR(ck->check_unchanged(), Errc::bad_format, "m.safetensors", "changed");
    }
    SECTION("same size, different modification time") {
        const Bytes same = sutra::test::read_bytes(p);
        sutra::test::write_bytes(p, same);
        fs::last_write_time(p, fs::last_write_time(p) - std::chrono::hours(1));
        SUTRA_REQUIRE_ERROR(ck->check_unchanged(), Errc::bad_format, "changed");
    }
    SECTION("a changed shard of a sharded checkpoint") {
        TempDir dir;
        make_sharded(dir.path());
        auto sh = Checkpoint::open(dir.path());
        SUTRA_REQUIRE_OK(sh);
        StBuilder bigger = shard2();
        bigger.f32("extra", {1}, {1});
        bigger.write(dir / kShard2);
        SUTRA_REQUIRE_ERROR(sh->check_unchanged(), Errc::bad_format, kShard2, "changed");
    }
}
