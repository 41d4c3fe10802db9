// sutra's GGUF block decoders against an independent numpy decoder
// (test/reference/ggml_dequant.py, written from the layout in lib/sutra/format/GGUF.md):
// rows of every type encoded by sutra (plain and importance-weighted, gaussian and
// heavy-tailed, plus edge rows) must decode to bit-identical float32 on both sides.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/python.hpp"
#include "support/st_builder.hpp"
#include "sutra/quant/ggml_types.hpp"

using namespace sutra;
using namespace sutra::quant;
namespace fs = std::filesystem;

namespace {

// Rows of `cols` values: gaussian, heavy-tailed (student-t 3), all-positive, all-negative,
// constant, zero, and a row with tiny and large magnitudes mixed.
std::vector<float> test_rows(size_t cols, size_t* rows) {
    std::mt19937 rng(4242);
    std::normal_distribution<float> g(0.0f, 0.03f);
    std::student_t_distribution<float> t3(3.0f);
    std::vector<float> x;
    auto row = [&](auto fn) {
        for (size_t i = 0; i < cols; ++i)
            x.push_back(fn(i));
    };
    row([&](size_t) { return g(rng); });
    row([&](size_t) { return 0.02f * t3(rng); });
    row([&](size_t) { return std::fabs(g(rng)) + 0.01f; });
    row([&](size_t) { return -std::fabs(g(rng)) - 0.5f; });
    row([&](size_t) { return 0.375f; });
    row([&](size_t) { return 0.0f; });
    row([&](size_t i) { return (i % 7 == 0 ? 30.0f : 1e-4f) * g(rng); });
    *rows = x.size() / cols;
    return x;
}

}  // namespace

TEST_CASE("ggml: numpy reference decoder agrees bit for bit", "[ggml]") {
    const auto python = test::python_with_numpy();
    if (!python)
        FAIL(
            "no python3 that imports numpy (tried $SUTRA_PYTHON, /usr/bin/python3, python3): "
            "scripts/bootstrap.sh installs python3-numpy");
    const fs::path script = test::source_dir() / "test" / "reference" / "ggml_dequant.py";
    const size_t cols = 512;
    size_t rows = 0;
    const auto x = test_rows(cols, &rows);
    std::mt19937 rng(7);
    std::lognormal_distribution<float> ld(0.0f, 2.0f);
    std::vector<float> imp(cols);
    for (auto& v : imp)
        v = ld(rng);
    imp[3] = 0.0f;  // zero weights are allowed
    test::TempDir dir;
    for (const auto& info : ggml_types()) {
        for (int weighted = 0; weighted < 2; ++weighted) {
            const uint64_t rb = ggml_row_bytes(info.type, cols);
            test::Bytes enc(rb * rows);
            std::vector<float> mine(cols * rows);
            for (size_t r = 0; r < rows; ++r) {
                const auto st =
                    ggml_quantize_row(info.type, x.data() + r * cols, cols,
                                      weighted ? imp.data() : nullptr, enc.data() + r * rb);
                REQUIRE(st.ok());
                ggml_dequantize_row(info.type, enc.data() + r * rb, cols, mine.data() + r * cols);
            }
            const fs::path in = dir / (std::string(info.name) + ".bin");
            const fs::path out = dir / (std::string(info.name) + ".f32");
            test::write_bytes(in, enc);
            test::TempDir logs;
            const int code = test::run_command({*python, script.string(), info.name,
                                                std::to_string(cols), in.string(), out.string()},
                                               logs.path());
            const test::Bytes err = test::read_bytes(logs / "stderr");
            INFO(info.name << (weighted ? " weighted" : " plain") << ": "
                           << std::string(err.begin(), err.end()));
            REQUIRE(code == 0);
            const test::Bytes ref = test::read_bytes(out);
            REQUIRE(ref.size() == mine.size() * 4);
            size_t mismatches = 0, first = 0;
            for (size_t i = 0; i < mine.size(); ++i) {
                uint32_t a = 0, b = 0;
                std::memcpy(&a, &mine[i], 4);
                std::memcpy(&b, ref.data() + 4 * i, 4);
                if (a != b && mismatches++ == 0) first = i;
            }
            INFO("first mismatch at element " << first);
            CHECK(mismatches == 0);
        }
    }
}

// Against llama.cpp's own ggml (hidden: needs libggml-base.so, e.g. from the npm package
// @node-llama-cpp/linux-x64@3.22.1, whose path goes in $SUTRA_LIBGGML_BASE):
//   SUTRA_LIBGGML_BASE=.../bins/linux-x64/libggml-base.so build/bin/sutra_tests "[ggml-llama]"
// sutra's unweighted 32-value blocks must equal quantize_row_*_ref's bytes, llama.cpp must
// decode every type of sutra's to the same floats, and it prints the MSE of both encoders.
TEST_CASE("ggml: bytes and decoding agree with llama.cpp's ggml", "[.][ggml-llama]") {
    const char* lib = std::getenv("SUTRA_LIBGGML_BASE");
    if (!lib || !*lib) FAIL("set SUTRA_LIBGGML_BASE to llama.cpp's libggml-base.so");
    const auto python = test::python_with_numpy();
    REQUIRE(python);
    const size_t rows = 32, cols = 4096;
    std::mt19937 rng(77);
    std::normal_distribution<float> g(0.0f, 0.02f);
    std::student_t_distribution<float> t3(3.0f);
    std::lognormal_distribution<float> ld(0.0f, 1.5f);
    std::vector<float> x(rows * cols), imp(cols);
    // Gaussian and heavy-tailed rows, and edge rows: all positive, mixed magnitudes, small
    // integers (exact ties), constant, zero.
    for (size_t i = 0; i < x.size(); ++i) {
        const size_t r = i / cols;
        float v = 0;
        switch (r % 8) {
            case 0:
            case 1:
            case 2:
                v = g(rng);
                break;
            case 3:
            case 4:
                v = 0.02f * t3(rng);
                break;
            case 5:
                v = std::fabs(g(rng)) + 0.01f;
                break;
            case 6:
                v = (i % 7 == 0 ? 30.0f : 1e-4f) * g(rng);
                break;
            default:
                v = r == 7 ? 0.375f : r == 15 ? 0.0f : static_cast<float>(i % 23) - 11.0f;
        }
        x[i] = v;
    }
    for (auto& v : imp)
        v = ld(rng);
    test::TempDir dir;
    auto floats = [](const std::vector<float>& v) {
        test::Bytes b(v.size() * 4);
        std::memcpy(b.data(), v.data(), b.size());
        return b;
    };
    test::write_bytes(dir / "x.f32", floats(x));
    test::write_bytes(dir / "imp.f32", floats(imp));
    for (const auto& info : ggml_types()) {
        if (info.block_elems == 1) continue;
        for (int weighted = 0; weighted < 2; ++weighted) {
            const uint64_t rb = ggml_row_bytes(info.type, cols);
            test::Bytes enc(rb * rows);
            std::vector<float> dec(rows * cols);
            for (size_t r = 0; r < rows; ++r) {
                REQUIRE(ggml_quantize_row(info.type, x.data() + r * cols, cols,
                                          weighted ? imp.data() : nullptr, enc.data() + r * rb)
                            .ok());
                ggml_dequantize_row(info.type, enc.data() + r * rb, cols, dec.data() + r * cols);
            }
            const std::string base = std::string(info.name) + (weighted ? ".weighted" : ".plain");
            test::write_bytes(dir / (base + ".bin"), enc);
            test::write_bytes(dir / (base + ".dec"), floats(dec));
        }
    }
    const fs::path script = test::source_dir() / "test" / "reference" / "ggml_llama_check.py";
    const std::string cmd = test::shell_quote(*python) + " " + test::shell_quote(script.string()) +
                            " " + test::shell_quote(lib) + " " +
                            test::shell_quote(dir.path().string()) + " " + std::to_string(rows) +
                            " " + std::to_string(cols);
    const int status = std::system(cmd.c_str());  // its table goes to stdout
    REQUIRE(status != -1);
    CHECK(WEXITSTATUS(status) == 0);
}
