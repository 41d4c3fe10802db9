// `sutra bench --eval-text`: the options refused before any work (evaluation text that is the
// calibration text, unknown methods, bad widths), and the child-process runner behind it.
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <vector>

#include "support/checks.hpp"
#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/base/memory.hpp"
#include "sutra/pipeline/bench_accuracy.hpp"
#include "sutra/pipeline/bench_child.hpp"

namespace {

namespace fs = std::filesystem;
using namespace sutra;

}  // namespace

TEST_CASE("bench accuracy: the evaluation text must not be the calibration text",
          "[pipeline][bench]") {
    test::TempDir d;
    const fs::path calib = d / "calib.txt", other = d / "eval.txt", copy = d / "copy.txt";
    test::write_text(calib, "Once upon a time there was a cat.\n");
    test::write_text(other, "Once upon a time there was a dog.\n");  // same size, other bytes
    test::write_text(copy, "Once upon a time there was a cat.\n");
    SUTRA_REQUIRE_OK(pipeline::check_eval_text_differs(other, {calib}));
    SUTRA_REQUIRE_OK(pipeline::check_eval_text_differs(other, {}));

    SECTION("the same path") {
        SUTRA_REQUIRE_ERROR(pipeline::check_eval_text_differs(calib, {calib}),
                            Errc::invalid_argument, "is the same file as", "--calib-text",
                            "held-out");
    }
    SECTION("a hard link and a symbolic link") {
        fs::create_hard_link(calib, d / "hard.txt");
        fs::create_symlink(calib, d / "soft.txt");
        SUTRA_REQUIRE_ERROR(pipeline::check_eval_text_differs(d / "hard.txt", {other, calib}),
                            Errc::invalid_argument, "same file");
        SUTRA_REQUIRE_ERROR(pipeline::check_eval_text_differs(d / "soft.txt", {calib}),
                            Errc::invalid_argument, "same file");
    }
    SECTION("a copy") {
        SUTRA_REQUIRE_ERROR(pipeline::check_eval_text_differs(copy, {other, calib}),
                            Errc::invalid_argument, "same contents", calib.string());
    }
    SECTION("a missing file") {
        SUTRA_REQUIRE_ERROR(pipeline::check_eval_text_differs(d / "none.txt", {calib}),
                            Errc::not_found, "--eval-text");
    }
}

TEST_CASE("bench accuracy: bad options are refused before any work", "[pipeline][bench]") {
    test::TempDir d;
    pipeline::AccuracyBenchOptions o;
    o.quantize.input = d / "missing.safetensors";  // never opened: the options fail first
    o.eval_text = d / "eval.txt";
    o.out_dir = d.path();
    SECTION("unknown method, with the parser's suggestion") {
        o.methods = {"rtn", "awk"};
        SUTRA_REQUIRE_ERROR(pipeline::run_accuracy_bench(o, nullptr), Errc::invalid_argument,
                            "--methods", "unknown method \"awk\"", "did you mean \"awq\"?");
    }
    SECTION("a calibrated method without calibration") {
        o.methods = {"awq"};
        SUTRA_REQUIRE_ERROR(pipeline::run_accuracy_bench(o, nullptr), Errc::invalid_argument, "awq",
                            "calib");
    }
    SECTION("a bit width") {
        o.bits = {4, 5};
        SUTRA_REQUIRE_ERROR(pipeline::run_accuracy_bench(o, nullptr), Errc::invalid_argument,
                            "--bits 5");
    }
    SECTION("window length") {
        o.eval_seq_len = 1;
        SUTRA_REQUIRE_ERROR(pipeline::run_accuracy_bench(o, nullptr), Errc::invalid_argument,
                            "--eval-seq-len");
    }
    CHECK(test::listing(d.path()).empty());
}

TEST_CASE("bench child: result, error and death of the child come back", "[pipeline][bench]") {
    SECTION("a value, and the child's own peak") {
        const uint64_t parent_before = current_rss_bytes();
        auto r = pipeline::run_in_child("work", []() -> Result<nlohmann::json> {
            // 64 MiB of fresh pages, touched: resident in the child only (a fresh mapping, not
            // the heap, which may hold freed memory of earlier tests that is resident already).
            const size_t size = 64u << 20;
            void* p =
                ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) return make_error(Errc::io, "mmap failed");
            auto* big = static_cast<volatile char*>(p);
            for (size_t i = 0; i < size; i += 4096)
                big[i] = 1;
            ::munmap(p, size);
            return nlohmann::json{{"answer", 42}, {"pid", ::getpid()}};
        });
        SUTRA_REQUIRE_OK(r);
        CHECK(r->value["answer"] == 42);
        CHECK(r->value["pid"].get<int>() != ::getpid());
        CHECK(r->peak_rss_bytes >= r->start_rss_bytes + (60u << 20));
        // The parent never held it (its own size is not comparable: under ASan it can be larger
        // than the child's peak).
        CHECK(current_rss_bytes() < parent_before + (32u << 20));
    }
    SECTION("an error keeps its code and message") {
        auto r = pipeline::run_in_child("work", []() -> Result<nlohmann::json> {
            return make_error(Errc::not_found, "x.txt: not found");
        });
        SUTRA_REQUIRE_ERROR(r, Errc::not_found, "x.txt: not found");
    }
    SECTION("a child that dies") {
        auto r = pipeline::run_in_child("quantize awq", []() -> Result<nlohmann::json> {
            std::raise(SIGKILL);
            return nlohmann::json();
        });
        SUTRA_REQUIRE_ERROR(r, Errc::internal, "quantize awq", "signal 9");
    }
}
