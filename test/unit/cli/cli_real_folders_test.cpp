// Real model folders as users have them: a generated Qwen3- or Mistral-shaped checkpoint with
// the model's real tokenizer files, laid out as the Hugging Face hub cache does it
// (models--org--name/{refs/main, snapshots/<rev>/<file> -> ../../blobs/<hash>}), quantized with
// AWQ calibrated on text. The calibration token count must equal the reference tokenizer's on
// the same text (the golden ids of ../shared/tokenizers, made by the tokenizers crate).
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "sutra/pipeline/example_checkpoint.hpp"

using namespace sutra;
using sutra::test::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path kShared = SUTRA_SHARED_DIR;

size_t golden_count(const fs::path& ids) {
    std::ifstream f(ids);
    size_t n = 0;
    std::string line;
    while (std::getline(f, line))
        n += !line.empty();
    return n;
}

// Moves every file of `src` into a hub-cache layout under `root` and returns the repo folder
// (root/models--org--name).
fs::path make_hub_cache(const fs::path& src, const fs::path& root, const std::string& name) {
    const fs::path repo = root / ("models--sutra-test--" + name);
    const std::string rev = "0123456789abcdef0123456789abcdef01234567";
    fs::create_directories(repo / "blobs");
    fs::create_directories(repo / "snapshots" / rev);
    fs::create_directories(repo / "refs");
    std::ofstream(repo / "refs" / "main") << rev;
    int k = 0;
    for (const auto& e : fs::directory_iterator(src)) {
        const std::string blob = "blob" + std::to_string(k++) + "0f1e2d3c4b5a";
        fs::copy_file(e.path(), repo / "blobs" / blob);
        fs::create_symlink(fs::path("..") / ".." / "blobs" / blob,
                           repo / "snapshots" / rev / e.path().filename());
    }
    return repo;
}

void check_real_folder(const std::string& shape, const std::string& tokenizer,
                       const std::vector<std::string>& files) {
    TempDir d;
    const fs::path model = d / "model";
    pipeline::ExampleOptions opt;
    auto s = pipeline::example_shape(shape);
    REQUIRE(s.ok());
    opt.shape = *s;
    opt.dtype = s->dtype;
    REQUIRE(pipeline::write_example_checkpoint(model, opt).ok());
    for (const auto& f : files)
        fs::copy_file(kShared / "tokenizers" / tokenizer / f, model / f);
    const fs::path repo = make_hub_cache(model, d / "hub", shape);
    fs::remove_all(model);

    const fs::path text = kShared / "tokenizers" / "text" / "tinystories_eval_20k.txt";
    const size_t expected = golden_count(kShared / "tokenizers" / tokenizer / "golden" /
                                         "tinystories_eval_20k.nospecial.ids");
    auto r = test::run_sutra({"quantize", repo.string(), "-o", (d / "q.qbin").string(),
                              "--calib-text", text.string(), "--seq-len", "64", "--calib-tokens",
                              "0", "--bits", "4", "--group-size", "32", "--json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["method"] == "awq");
    CHECK(j["calibration"]["text_tokens"].get<size_t>() == expected);
    CHECK_THAT(j["calibration"]["tokenizer"].get<std::string>(), Catch::Contains(files.front()));
    CHECK(j["calibration"]["windows"].get<size_t>() == expected / 63);
    // Nothing was written into the cache.
    for (const auto& e : fs::recursive_directory_iterator(repo))
        CHECK(e.path().filename() != "q.qbin");

    auto ins = test::run_sutra({"inspect", repo.string(), "--json"});
    REQUIRE(ins.code == 0);
    CHECK_THAT(nlohmann::json::parse(ins.out)["tokenizer"].get<std::string>(),
               Catch::Contains(files.front()));

    // The .qbin runs with the cache's snapshot supplying the tokenizer.
    auto ev = test::run_sutra({"eval", (d / "q.qbin").string(), "--model-dir", repo.string(),
                               "--text", text.string(), "--seq-len", "64", "--json"});
    INFO(ev.err);
    REQUIRE(ev.code == 0);
    CHECK(nlohmann::json::parse(ev.out)["tokens"].get<size_t>() > 0);
}

}  // namespace

TEST_CASE("real folders: a Qwen3-shaped hub-cache folder with Qwen3's tokenizer.json",
          "[cli][shared][slow]") {
    check_real_folder("tiny-qwen3", "qwen3", {"tokenizer.json", "tokenizer_config.json"});
}

TEST_CASE("real folders: a Mistral-shaped hub-cache folder with Mistral's tokenizer.json",
          "[cli][shared][slow]") {
    check_real_folder("tiny-mistral", "mistral-7b-v0.1",
                      {"tokenizer.json", "tokenizer.model", "tokenizer_config.json"});
}

TEST_CASE("real folders: a Mistral-shaped folder with only tokenizer.model",
          "[cli][shared][slow]") {
    check_real_folder("tiny-mistral", "mistral-7b-v0.1", {"tokenizer.model"});
}
