// `sutra export --format gguf` end to end, checked by an independent numpy reader
// (test/reference/gguf_check.py, written from the GGUF specification and llama.cpp's
// converter conventions): stories260K (the llama2.c tokenizer, tied head, GQA q/k
// permutation) in F32, F16 and Q8_0 from an unquantized and an 8-bit .qbin, and generated
// qwen2 / qwen3 / mistral / llama3 checkpoints with tokenizer.json / tokenizer.model vocabularies.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <optional>

#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/python.hpp"
#include "sutra/format/gguf_reader.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"
#include "sutra/pipeline/export.hpp"

using namespace sutra;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
    const test::Bytes b = test::read_bytes(p);
    return {b.begin(), b.end()};
}

void sutra_ok(const std::vector<std::string>& args) {
    const auto r = test::run_sutra(args);
    INFO(args[0] << ": " << r.err);
    REQUIRE(r.code == 0);
}

// The independent check of `gguf` against the dequantized .qbin.
void reference_check(const fs::path& gguf, const fs::path& qbin, const fs::path& config,
                     const std::string& type) {
    const auto py = test::python_with_numpy();
    // Not a skip: the check is the point of the test (scripts/bootstrap.sh installs numpy).
    if (!py)
        FAIL("python3 with numpy not found (apt-get install python3-numpy): cannot check " << gguf);
    const fs::path deq = gguf.parent_path() / (gguf.stem().string() + "-deq.safetensors");
    if (!fs::exists(deq)) sutra_ok({"dequantize", qbin.string(), "-o", deq.string(), "--force"});
    test::TempDir logs;
    const int rc =
        test::run_command({*py, (test::source_dir() / "test/reference/gguf_check.py").string(),
                           gguf.string(), deq.string(), config.string(), type},
                          logs.path());
    INFO(read_text(logs / "stdout") << read_text(logs / "stderr"));
    CHECK(rc == 0);
}

fs::path keep_all_config(const fs::path& dir) {
    const fs::path p = dir / "keep-all.json";
    std::ofstream(p) << R"({"name": "keep-all", "description": "every tensor unchanged",
        "default": {"bits": 8, "group_size": 32}, "rules": [{"pattern": "*", "keep": true}]})";
    return p;
}

}  // namespace

TEST_CASE("gguf export: stories260K in F32, F16 and Q8_0 against the numpy reader",
          "[gguf][shared][slow]") {
    const fs::path model = test::shared_dir() / "models/stories260K-hf";
    test::TempDir dir;
    const fs::path raw = dir / "raw.qbin", q8 = dir / "q8.qbin";
    sutra_ok({"quantize", model.string(), "-o", raw.string(), "--config",
              keep_all_config(dir.path()).string()});
    sutra_ok({"quantize", model.string(), "-o", q8.string(), "--bits", "8"});
    for (const auto& [qbin, type] : std::vector<std::pair<fs::path, std::string>>{
             {raw, "F32"}, {raw, "F16"}, {raw, "Q8_0"}, {q8, "F32"}, {q8, "Q8_0"}}) {
        const fs::path out = dir / (qbin.stem().string() + "-" + type + ".gguf");
        const auto r = test::run_sutra({"export", qbin.string(), "--format", "gguf", "--gguf-type",
                                        type, "-o", out.string(), "--model-dir", model.string()});
        INFO(r.err);
        REQUIRE(r.code == 0);
        if (type == "Q8_0") CHECK_THAT(r.err, Catch::Contains("fallback Q8_0 -> F16"));  // 172 wide
        reference_check(out, qbin, model / "config.json", type);
        auto h = format::read_gguf_header(out);
        REQUIRE(h.ok());
        CHECK(h->find_tensor("output.weight") == nullptr);  // tied: llama.cpp uses token_embd
        CHECK(h->find("tokenizer.ggml.model")->s == "llama");
    }
}

TEST_CASE("gguf export: the same bytes for every thread count; bad input refused",
          "[gguf][shared]") {
    const fs::path model = test::shared_dir() / "models/stories260K-hf";
    test::TempDir dir;
    const fs::path q = dir / "q4.qbin";
    sutra_ok({"quantize", model.string(), "-o", q.string(), "--bits", "4", "--group-size", "32"});
    pipeline::ExportOptions opt;
    opt.input = q;
    opt.format = pipeline::ExportFormat::gguf;
    opt.model_dir = model;
    opt.gguf_type = "Q4_K_M";
    std::vector<test::Bytes> files;
    for (unsigned threads : {1u, 3u}) {
        opt.threads = threads;
        opt.output = dir / ("t" + std::to_string(threads) + ".gguf");
        auto rep = pipeline::run_export(opt, nullptr);
        INFO((rep.ok() ? "" : rep.error().message));
        REQUIRE(rep.ok());
        files.push_back(test::read_bytes(opt.output));
        // Q4_K does not fit 64 columns: Q5_0, as llama.cpp falls back; the head Q8_0.
        bool saw_fallback = false;
        for (const auto& t : rep->tensors) {
            if (t.name == "blk.0.attn_q.weight") {
                CHECK(t.type == "Q5_0");
                saw_fallback = t.note.find("fallback Q4_K -> Q5_0") != std::string::npos;
            }
            if (t.name == "token_embd.weight") CHECK(t.type == "Q8_0");
            if (t.name == "blk.0.attn_norm.weight") CHECK(t.type == "F32");
        }
        CHECK(saw_fallback);
    }
    CHECK(files[0] == files[1]);

    // Default type from a 4-bit g32 .qbin: Q4_1 (F16 where 172 columns do not fit).
    opt.gguf_type = "";
    opt.output = dir / "default.gguf";
    auto rep = pipeline::run_export(opt, nullptr);
    REQUIRE(rep.ok());
    for (const auto& t : rep->tensors) {
        if (t.name == "blk.1.ffn_up.weight") CHECK(t.type == "Q4_1");
        if (t.name == "blk.1.ffn_down.weight") CHECK(t.type == "F16");
    }

    // Refusals, each before any output exists.
    auto fails = [&](pipeline::ExportOptions o, const std::string& what) {
        o.output = dir / "bad.gguf";
        auto r = pipeline::run_export(o, nullptr);
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains(what));
        CHECK_FALSE(fs::exists(o.output));
    };
    auto o = opt;
    o.gguf_type = "Q3_K";
    fails(o, "unknown type");
    o = opt;
    o.model_dir.reset();
    fails(o, "--model-dir");
    o = opt;
    o.tokenizer = test::shared_dir() / "tokenizers/flan-t5-large/tokenizer.json";
    fails(o, "Unigram");
    o = opt;
    o.output = q;
    auto same = pipeline::run_export(o, nullptr);
    REQUIRE_FALSE(same.ok());
    // An existing output needs force.
    o = opt;
    o.output = dir / "default.gguf";
    auto exists = pipeline::run_export(o, nullptr);
    REQUIRE_FALSE(exists.ok());
    CHECK(exists.error().code == Errc::exists);
}

TEST_CASE("gguf export: generated qwen2, qwen3, mistral and llama3 checkpoints",
          "[gguf][shared][slow]") {
    const fs::path tk = test::shared_dir() / "tokenizers";
    struct Case {
        std::string shape;
        fs::path tokenizer;
        std::string arch, tok_model, pre;
    };
    const std::vector<Case> cases = {
        {"tiny-qwen2", tk / "qwen3/tokenizer.json", "qwen2", "gpt2", "qwen2"},
        {"tiny-qwen3", tk / "qwen3/tokenizer.json", "qwen3", "gpt2", "qwen2"},
        {"tiny-mistral", tk / "mistral-7b-v0.1", "llama", "llama", "default"},
        {"tiny-llama3", tk / "gpt2/tokenizer.json", "llama", "gpt2", "gpt-2"},
    };
    for (const auto& c : cases) {
        INFO(c.shape);
        test::TempDir dir;
        auto shape = pipeline::example_shape(c.shape);
        REQUIRE(shape.ok());
        pipeline::ExampleOptions eo;
        eo.shape = *shape;
        eo.dtype = DType::BF16;
        const fs::path model = dir / "model";
        REQUIRE(pipeline::write_example_checkpoint(model, eo).ok());
        const fs::path q = dir / "q8.qbin";
        sutra_ok({"quantize", model.string(), "-o", q.string(), "--bits", "8"});
        const fs::path out = dir / "q8.gguf";
        sutra_ok({"export", q.string(), "--format", "gguf", "--gguf-type", "Q8_0", "-o",
                  out.string(), "--model-dir", model.string(), "--tokenizer",
                  c.tokenizer.string()});
        reference_check(out, q, model / "config.json", "Q8_0");
        auto h = format::read_gguf_header(out);
        REQUIRE(h.ok());
        CHECK(h->find("general.architecture")->s == c.arch);
        CHECK(h->find("tokenizer.ggml.model")->s == c.tok_model);
        CHECK(h->find("tokenizer.ggml.pre")->s == c.pre);
        if (c.shape == "tiny-qwen3") CHECK(h->find_tensor("blk.1.attn_k_norm.weight"));
        if (c.shape == "tiny-qwen2") CHECK(h->find_tensor("blk.0.attn_q.bias"));
        if (c.shape == "tiny-llama3") CHECK(h->find_tensor("rope_freqs.weight"));
        if (c.shape == "tiny-mistral") CHECK(h->find_tensor("output.weight"));
    }
}
