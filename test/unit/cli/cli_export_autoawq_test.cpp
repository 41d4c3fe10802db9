// `sutra export --format autoawq` and `sutra quantize --format autoawq` end to end. Every
// export is checked against `sutra dequantize` of the same .qbin by an independent numpy
// decoder (test/reference/autoawq_decode.py, written from the layout description): the
// quantized linears must decode bit for bit, everything else must be the F16 rounding of the
// dequantized values. Also: refusals before anything is written, --keep-unsupported,
// --force replacing the folder whole, sharding, and stories260K with AWQ.
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/paths.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"
#include "sutra/pipeline/export.hpp"

using namespace sutra;
using sutra::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
    std::error_code ec;
    const auto n = fs::file_size(p, ec);
    std::string text(ec ? 0 : static_cast<size_t>(n), '\0');
    std::ifstream f(p, std::ios::binary);
    f.read(text.data(), static_cast<std::streamsize>(text.size()));
    return text;
}

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'') {
            q += "'\\''";
        } else {
            q += c;
        }
    }
    q += '\'';
    return q;
}

struct Run {
    int code = -1;
    std::string out, err;
};

// `argv` through the shell, stdin from /dev/null; stdout and stderr captured.
Run run_command(const std::vector<std::string>& argv) {
    TempDir logs;
    std::string cmd;
    for (const auto& a : argv) {
        if (!cmd.empty()) cmd += ' ';
        cmd += quote(a);
    }
    cmd += " </dev/null >";
    cmd += quote((logs / "out").string());
    cmd += " 2>";
    cmd += quote((logs / "err").string());
    const int status = std::system(cmd.c_str());
    Run r;
    if (status != -1 && WIFEXITED(status)) r.code = WEXITSTATUS(status);
    r.out = slurp(logs / "out");
    r.err = slurp(logs / "err");
    return r;
}

Run run_sutra(const std::vector<std::string>& args) {
    std::vector<std::string> all{std::string(SUTRA_BINARY)};
    for (const auto& a : args)
        all.push_back(a);
    return run_command(all);
}

// A python3 that imports numpy: $SUTRA_PYTHON, then /usr/bin/python3 (Debian's numpy).
std::optional<std::string> find_python() {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("SUTRA_PYTHON"); env && *env) candidates.emplace_back(env);
    candidates.emplace_back("/usr/bin/python3");
    for (const auto& c : candidates)
        if (run_command({c, "-c", "import numpy"}).code == 0) return c;
    return std::nullopt;
}

const fs::path kDecoder = fs::path(SUTRA_SOURCE_DIR) / "test" / "reference" / "autoawq_decode.py";

// Dequantizes the .qbin and requires the independent decoder to accept the export.
void check_against_dequantize(const fs::path& qbin, const fs::path& awq_dir) {
    const auto py = find_python();
    if (!py) {
        WARN("numpy not found (set SUTRA_PYTHON): the independent AutoAWQ decoder is skipped");
        return;
    }
    TempDir d;
    const fs::path deq = d / "deq.safetensors";
    auto r = run_sutra({"dequantize", qbin.string(), "-o", deq.string(), "--dtype", "f32"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    auto dec = run_command({*py, kDecoder.string(), awq_dir.string(), deq.string()});
    INFO(dec.out + dec.err);
    CHECK(dec.code == 0);
    CHECK_THAT(dec.out, Catch::Contains("bit-exact"));
}

fs::path write_tiny(const fs::path& dir) {
    pipeline::ExampleOptions eo;
    auto s = pipeline::example_shape("tiny");
    REQUIRE(s.ok());
    eo.shape = *s;
    REQUIRE(pipeline::write_example_checkpoint(dir, eo).ok());
    std::ofstream(dir / "tokenizer.json") << "{\"model\": {}}\n";
    std::ofstream(dir / "generation_config.json") << "{\"bos_token_id\": 1}\n";
    return dir;
}

void quantize(const fs::path& model, const fs::path& qbin, std::vector<std::string> flags) {
    std::vector<std::string> args = {"quantize", model.string(), "-o", qbin.string()};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = run_sutra(args);
    INFO(r.err);
    REQUIRE(r.code == 0);
}

nlohmann::json read_json(const fs::path& p) {
    return nlohmann::json::parse(slurp(p));
}

// Only `keep` in `dir`: no temporary folder or .qbin left behind.
void check_only(const fs::path& dir, std::vector<std::string> keep) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir))
        names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    std::sort(keep.begin(), keep.end());
    CHECK(names == keep);
}

}  // namespace

TEST_CASE("export autoawq: tiny RTN g64, decoded bit for bit; files, config, --force",
          "[autoawq][cli]") {
    TempDir d;
    const fs::path model = write_tiny(d / "model");
    const fs::path qbin = d / "tiny.qbin", out = d / "awq";
    quantize(model, qbin, {"--method", "rtn", "--group-size", "64"});

    // No config.json beside the .qbin: --model-dir is needed, and the message says so.
    auto miss = run_sutra({"export", qbin.string(), "--format", "autoawq", "-o", out.string()});
    CHECK(miss.code == 2);
    CHECK_THAT(miss.err, Catch::Contains("--model-dir"));
    CHECK(!fs::exists(out));

    auto r = run_sutra({"export", qbin.string(), "--format", "autoawq", "-o", out.string(),
                        "--model-dir", model.string(), "--json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["schema"] == "sutra.export/1");
    CHECK(j["format"] == "autoawq");
    CHECK(j["quantized_linears"] == 14);  // 2 layers x 7 linears
    CHECK(j["quantization_config"]["group_size"] == 64);
    // The balanced preset's 8-bit embedding and lm_head are dequantized, with a warning.
    CHECK_THAT(r.err, Catch::Contains("model.embed_tokens.weight: dequantized to F16"));
    check_only(out,
               {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"});
    const auto cfg = read_json(out / "config.json");
    const auto src = read_json(model / "config.json");
    CHECK(cfg["torch_dtype"] == "float16");
    CHECK(cfg["hidden_size"] == src["hidden_size"]);
    const auto& qc = cfg["quantization_config"];
    CHECK(qc["quant_method"] == "awq");
    CHECK(qc["bits"] == 4);
    CHECK(qc["group_size"] == 64);
    CHECK(qc["zero_point"] == true);
    CHECK(qc["version"] == "gemm");
    CHECK(qc["modules_to_not_convert"] == nlohmann::json::array());
    CHECK(slurp(out / "tokenizer.json") == slurp(model / "tokenizer.json"));
    check_against_dequantize(qbin, out);

    // An existing output needs --force, and is then replaced whole (not merged).
    auto again = run_sutra({"export", qbin.string(), "--format", "autoawq", "-o", out.string(),
                            "--model-dir", model.string()});
    CHECK(again.code == 2);
    CHECK_THAT(again.err, Catch::Contains("--force"));
    std::ofstream(out / "stray.txt") << "old\n";
    auto forced = run_sutra({"export", qbin.string(), "--format", "autoawq", "-o", out.string(),
                             "--model-dir", model.string(), "--force"});
    INFO(forced.err);
    REQUIRE(forced.code == 0);
    CHECK_THAT(forced.out, Catch::Contains("14 linears 4-bit g64"));
    CHECK(!fs::exists(out / "stray.txt"));
    check_only(d.path(), {"awq", "model", "tiny.qbin"});

    // The output may never be (or hold) the input or the source folder, --force or not.
    auto over_model = run_sutra({"export", qbin.string(), "--format", "autoawq", "-o",
                                 model.string(), "--model-dir", model.string(), "--force"});
    CHECK(over_model.code == 2);
    CHECK_THAT(over_model.err, Catch::Contains("source folder"));
    auto over_input = run_sutra({"export", qbin.string(), "--format", "autoawq", "-o",
                                 d.path().string(), "--model-dir", model.string(), "--force"});
    CHECK(over_input.code == 2);
    CHECK_THAT(over_input.err, Catch::Contains("input"));
    CHECK(fs::exists(qbin));

    auto typo = run_sutra({"export", qbin.string(), "--format", "autoawk", "-o", (d / "x").string(),
                           "--model-dir", model.string()});
    CHECK(typo.code == 2);
    CHECK_THAT(typo.err, Catch::Contains("did you mean \"autoawq\""));
}

TEST_CASE("export autoawq: what the layout cannot hold is refused up front, or kept in F16",
          "[autoawq][cli]") {
    TempDir d;
    const fs::path model = write_tiny(d / "model");
    const fs::path mixed = d / "mixed.json";
    std::ofstream(mixed) << R"({"default": {"bits": 4, "group_size": 32}, "rules": [
        {"role": "embedding", "keep": true}, {"role": "output", "keep": true},
        {"role": "feedforward", "group_size": 64},
        {"pattern": "model.layers.1.self_attn.k_proj.weight", "keep": true}]})";
    const fs::path qbin = model / "mixed.qbin", out = d / "awq";
    quantize(model, qbin, {"--method", "rtn", "--config", mixed.string()});

    // Attention (8 linears, g32) sets the group size; the first feed-forward linear is named.
    auto r = run_sutra({"export", qbin.string(), "--format", "autoawq", "-o", out.string()});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("model.layers.0.mlp.gate_proj.weight") &&
                          Catch::Contains("group size 64") &&
                          Catch::Contains("--keep-unsupported"));
    CHECK(r.err.find('\n') == r.err.size() - 1);  // one line
    check_only(d.path(), {"mixed.json", "model"});

    auto k = run_sutra({"export", qbin.string(), "--format", "autoawq", "-o", out.string(),
                        "--keep-unsupported", "--json"});
    INFO(k.err);
    REQUIRE(k.code == 0);
    const auto qc = read_json(out / "config.json")["quantization_config"];
    CHECK(qc["group_size"] == 32);
    // The six feed-forward linears kept, and the k_proj the .qbin keeps unquantized; not the
    // embedding or lm_head.
    auto kept = qc["modules_to_not_convert"].get<std::vector<std::string>>();
    std::sort(kept.begin(), kept.end());
    CHECK(kept ==
          std::vector<std::string>{"model.layers.0.mlp.down_proj", "model.layers.0.mlp.gate_proj",
                                   "model.layers.0.mlp.up_proj", "model.layers.1.mlp.down_proj",
                                   "model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj",
                                   "model.layers.1.self_attn.k_proj"});
    CHECK_THAT(k.err, Catch::Contains("model.layers.1.mlp.down_proj.weight: written in F16"));
    check_against_dequantize(qbin, out);

    // 8-bit codes: refused, naming the tensor.
    const fs::path q8 = d / "q8.qbin";
    quantize(model, q8, {"--method", "rtn", "--preset", "conservative"});
    auto r8 = run_sutra({"export", q8.string(), "--format", "autoawq", "-o", (d / "awq8").string(),
                         "--model-dir", model.string()});
    CHECK(r8.code == 2);
    CHECK_THAT(r8.err, Catch::Contains("8-bit") && Catch::Contains("self_attn.q_proj.weight"));
    CHECK(!fs::exists(d / "awq8"));
}

TEST_CASE("export autoawq: sharded above the shard limit, with the index", "[autoawq][cli]") {
    TempDir d;
    const fs::path model = write_tiny(d / "model");
    const fs::path qbin = d / "t.qbin", out = d / "awq";
    quantize(model, qbin,
             {"--method", "rtn", "--config",
              (fs::path(SUTRA_SOURCE_DIR) / "configs" / "linears-4bit-g32.json").string()});
    pipeline::ExportOptions opt;
    opt.input = qbin;
    opt.output = out;
    opt.model_dir = model;
    opt.max_shard_bytes = 150'000;  // the embedding and lm_head (131 KB in F16) one each
    auto r = pipeline::run_export(opt, nullptr);
    INFO((r.ok() ? "" : r.error().message));
    REQUIRE(r.ok());
    REQUIRE(r->weight_files.size() > 2);
    CHECK(r->weight_files.front() ==
          "model-00001-of-0000" + std::to_string(r->weight_files.size()) + ".safetensors");
    CHECK(fs::exists(out / "model.safetensors.index.json"));
    CHECK(!fs::exists(out / "model.safetensors"));
    const auto idx = read_json(out / "model.safetensors.index.json");
    CHECK(idx["weight_map"]["model.layers.0.self_attn.q_proj.qweight"].is_string());
    CHECK(idx["metadata"]["total_size"].get<uint64_t>() > 0);
    check_against_dequantize(qbin, out);
}

TEST_CASE("quantize --format autoawq: one step, the temporary .qbin removed", "[autoawq][cli]") {
    TempDir d;
    const fs::path model = write_tiny(d / "model");
    const fs::path out = d / "awq";
    auto r = run_sutra({"quantize", model.string(), "-o", out.string(), "--format", "autoawq",
                        "--method", "rtn", "--group-size", "128", "--json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["schema"] == "sutra.quantize/1");
    CHECK(j["export"]["schema"] == "sutra.export/1");
    CHECK(read_json(out / "config.json")["quantization_config"]["group_size"] == 128);
    CHECK(fs::exists(out / "tokenizer.json"));
    check_only(d.path(), {"awq", "model"});

    // A failing export (8-bit codes) leaves neither the output nor the temporary .qbin.
    auto bad = run_sutra({"quantize", model.string(), "-o", (d / "awq8").string(), "--format",
                          "autoawq", "--method", "rtn", "--preset", "conservative"});
    CHECK(bad.code == 2);
    CHECK_THAT(bad.err, Catch::Contains("8-bit"));
    check_only(d.path(), {"awq", "model"});

    auto exists = run_sutra(
        {"quantize", model.string(), "-o", out.string(), "--format", "autoawq", "--method", "rtn"});
    CHECK(exists.code == 2);
    CHECK_THAT(exists.err, Catch::Contains("--force"));
}

TEST_CASE("export autoawq: stories260K, 4-bit g32 AWQ, the 172-wide MLP kept in F16",
          "[autoawq][cli][shared]") {
    // intermediate_size 172: gate_proj and up_proj have 172 outputs (not a multiple of 8),
    // down_proj 172 inputs (not a multiple of 32). Only the attention linears fit the layout.
    const fs::path shared = SUTRA_SHARED_DIR;
    const fs::path model = shared / "models" / "stories260K-hf";
    TempDir d;
    const fs::path qbin = d / "s.qbin", out = d / "awq";
    quantize(
        model, qbin,
        {"--method", "awq", "--calib-text", (shared / "text" / "tinystories_calib.txt").string(),
         "--calib-tokens", "512", "--seq-len", "64", "--config",
         (fs::path(SUTRA_SOURCE_DIR) / "configs" / "linears-4bit-g32.json").string()});
    auto r = run_sutra({"export", qbin.string(), "--format", "autoawq", "-o", out.string(),
                        "--model-dir", model.string()});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("model.layers.0.mlp.gate_proj.weight") &&
                          Catch::Contains("172 is not a multiple of 8") &&
                          Catch::Contains("--keep-unsupported") &&
                          Catch::Contains("14 more linears"));
    CHECK(!fs::exists(out));
    check_only(d.path(), {"s.qbin"});

    auto k = run_sutra({"export", qbin.string(), "--format", "autoawq", "-o", out.string(),
                        "--model-dir", model.string(), "--keep-unsupported"});
    INFO(k.err);
    REQUIRE(k.code == 0);
    CHECK_THAT(k.out, Catch::Contains("20 linears 4-bit g32") && Catch::Contains("15 kept in F16"));
    CHECK_THAT(k.err, Catch::Contains("model.layers.4.mlp.down_proj.weight: written in F16") &&
                          Catch::Contains("does not divide the input width 172"));
    const auto qc = read_json(out / "config.json")["quantization_config"];
    CHECK(qc["modules_to_not_convert"].size() == 15);
    CHECK(qc["modules_to_not_convert"][1] == "model.layers.0.mlp.down_proj");
    CHECK(slurp(out / "tok512.bin") == slurp(model / "tok512.bin"));
    check_against_dequantize(qbin, out);
}
