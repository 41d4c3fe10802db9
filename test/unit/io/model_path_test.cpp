// The Hugging Face hub cache layout as a model path: models--ORG--NAME/{refs/main, snapshots/
// <rev>/ (relative symbolic links), blobs/}. Generated here in a temp folder, as
// huggingface_hub lays it out. Every command opens it; the model folder is the snapshot (where
// config.json is a link too); blobs/ and the snapshot are never changed and no output lands in
// blobs/.
#include "sutra/io/model_path.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/cli_run.hpp"
#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/io/strict_json.hpp"

namespace {

namespace fs = std::filesystem;
using sutra::Errc;
using sutra::io::Checkpoint;
using sutra::io::resolve_model_path;
using sutra::test::Bytes;
using sutra::test::StBuilder;
using sutra::test::TempDir;

constexpr const char* kRev = "7fb1a6e1b7f3a6c2a9a1c0e4b2d5f8e9a0b1c2d3";

// A model in the hub cache layout under `root`.
class HubRepo {
  public:
    HubRepo(const fs::path& root, std::string rev = kRev)
        : repo_(root / "models--org--tiny"), rev_(std::move(rev)) {
        fs::create_directories(repo_ / "blobs");
        fs::create_directories(repo_ / "refs");
        fs::create_directories(snapshot());
        sutra::test::write_text(repo_ / "refs" / "main", rev_);  // no newline, as the hub writes
    }
    const fs::path& repo() const { return repo_; }
    fs::path snapshot() const { return repo_ / "snapshots" / rev_; }
    fs::path blobs() const { return repo_ / "blobs"; }

    // Stores `content` as a blob and links snapshots/<rev>/<rel> to it, relatively.
    fs::path add(const std::string& rel, const Bytes& content) {
        char name[65];
        std::snprintf(name, sizeof name, "%064zx", ++blobs_);
        sutra::test::write_bytes(blobs() / name, content);
        const fs::path link = snapshot() / rel;
        fs::create_directories(link.parent_path());
        fs::path target = "../..";
        const fs::path relpath(rel);
        for (auto it = relpath.begin(); std::next(it) != relpath.end(); ++it)
            target /= "..";
        fs::create_symlink(target / "blobs" / name, link);
        return blobs() / name;
    }
    void add_text(const std::string& rel, const std::string& text) {
        add(rel, Bytes(text.begin(), text.end()));
    }

  private:
    fs::path repo_;
    std::string rev_;
    size_t blobs_ = 0;
};

StBuilder tiny_model() {
    StBuilder b;
    b.meta("format", "pt");
    b.f32_filled("model.layers.0.mlp.up_proj.weight", {8, 64});
    b.f32("model.norm.weight", {4}, {1, 2, 3, 4});
    return b;
}

const char* kConfig = R"({"model_type":"llama","hidden_size":64,"tag":"from-the-snapshot"})";

// Every file under `dir` (links as their target text, files as their bytes), to check that
// nothing changed.
std::map<std::string, std::string> tree(const fs::path& dir) {
    std::map<std::string, std::string> m;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
         ++it) {
        const std::string rel = fs::relative(it->path(), dir).string();
        if (it->is_symlink()) {
            m[rel] = "-> " + fs::read_symlink(it->path()).string();
        } else if (it->is_regular_file()) {
            const Bytes b = sutra::test::read_bytes(it->path());
            struct stat st {};
            ::stat(it->path().c_str(), &st);
            m[rel] = std::string(b.begin(), b.end()) + "@" + std::to_string(st.st_mtim.tv_nsec) +
                     std::to_string(st.st_mtim.tv_sec);
        } else {
            m[rel] = "dir";
        }
    }
    return m;
}

}  // namespace

TEST_CASE("model path: a hub cache folder resolves to the snapshot refs/main names", "[io][hub]") {
    TempDir tmp;
    HubRepo hub(tmp.path());
    hub.add("model.safetensors", tiny_model().bytes());

    auto r = resolve_model_path(hub.repo());
    SUTRA_REQUIRE_OK(r);
    CHECK(*r == hub.snapshot());
    SECTION("with a trailing slash") {
        auto s = resolve_model_path(hub.repo().string() + "/");
        SUTRA_REQUIRE_OK(s);
        CHECK(fs::equivalent(*s, hub.snapshot()));
    }
    SECTION("its snapshots/ folder") {
        auto s = resolve_model_path(hub.repo() / "snapshots");
        SUTRA_REQUIRE_OK(s);
        CHECK(*s == hub.snapshot());
    }
    SECTION("refs/main with a trailing newline") {
        sutra::test::write_text(hub.repo() / "refs" / "main", std::string(kRev) + "\n");
        auto s = resolve_model_path(hub.repo());
        SUTRA_REQUIRE_OK(s);
        CHECK(*s == hub.snapshot());
    }
    SECTION("everything else is left as it is") {
        for (const fs::path& p : {hub.snapshot(), hub.snapshot() / "model.safetensors",
                                  tmp / "missing", tmp.path(), hub.blobs()}) {
            INFO(p);
            auto s = resolve_model_path(p);
            SUTRA_REQUIRE_OK(s);
            CHECK(*s == p);
        }
    }
    SECTION("a model folder that holds a checkpoint and a snapshots/ subfolder is itself") {
        sutra::test::write_bytes(hub.repo() / "model.safetensors", tiny_model().bytes());
        auto s = resolve_model_path(hub.repo());
        SUTRA_REQUIRE_OK(s);
        CHECK(*s == hub.repo());
    }
}

TEST_CASE("model path: a snapshot of links into blobs/ opens as a model folder", "[io][hub]") {
    TempDir tmp;
    HubRepo hub(tmp.path());
    const StBuilder model = tiny_model();
    hub.add("model.safetensors", model.bytes());
    hub.add_text("config.json", kConfig);

    for (const fs::path& p : {hub.repo(), hub.snapshot(), hub.snapshot() / "model.safetensors"}) {
        INFO("opened as " << p);
        auto ck = Checkpoint::open(p);
        SUTRA_REQUIRE_OK(ck);
        REQUIRE(ck->tensors().size() == 2);
        // The model folder is the snapshot, not blobs/: config.json there is a link too.
        CHECK(ck->model_dir() == hub.snapshot());
        CHECK(ck->files()[0].path() == hub.snapshot() / "model.safetensors");
        auto norm = ck->read_all_f32("model.norm.weight");
        SUTRA_REQUIRE_OK(norm);
        CHECK(*norm == std::vector<float>{1, 2, 3, 4});
        auto cfg = sutra::io::read_strict_json_file((ck->model_dir() / "config.json").string());
        SUTRA_REQUIRE_OK(cfg);
        CHECK((*cfg)["tag"] == "from-the-snapshot");
    }
}

TEST_CASE("model path: a sharded snapshot, index and shards all links", "[io][hub]") {
    TempDir tmp;
    HubRepo hub(tmp.path());
    StBuilder s1, s2;
    s1.f32("model.layers.0.mlp.up_proj.weight", {2, 3}, {1, 2, 3, 4, 5, 6});
    s2.f32("model.norm.weight", {2}, {0.5f, -0.5f});
    hub.add("model-00001-of-00002.safetensors", s1.bytes());
    hub.add("model-00002-of-00002.safetensors", s2.bytes());
    hub.add_text("model.safetensors.index.json",
                 R"({"weight_map":{"model.layers.0.mlp.up_proj.weight":)"
                 R"("model-00001-of-00002.safetensors",)"
                 R"("model.norm.weight":"model-00002-of-00002.safetensors"}})");
    auto ck = Checkpoint::open(hub.repo());
    SUTRA_REQUIRE_OK(ck);
    CHECK(ck->tensors().size() == 2);
    CHECK(ck->files().size() == 2);
    CHECK(ck->index_path() == hub.snapshot() / "model.safetensors.index.json");
    CHECK(ck->files()[1].path() == hub.snapshot() / "model-00002-of-00002.safetensors");
    CHECK(ck->model_dir() == hub.snapshot());
}

TEST_CASE("model path: errors name the problem and list the snapshots present", "[io][hub]") {
    TempDir tmp;
    HubRepo hub(tmp.path());
    hub.add("model.safetensors", tiny_model().bytes());
    fs::create_directories(hub.repo() / "snapshots" / "0000aaaa");

    SECTION("no refs/main") {
        fs::remove(hub.repo() / "refs" / "main");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(hub.repo()), Errc::not_found, "models--org--tiny",
                            "without refs/main", "pass one snapshot folder",
                            std::string("snapshots present: 0000aaaa, ") + kRev);
    }
    SECTION("refs/main names a snapshot that is not there") {
        sutra::test::write_text(hub.repo() / "refs" / "main", "deadbeef\n");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(hub.repo()), Errc::not_found,
                            "refs/main names snapshot deadbeef, which is not in snapshots/",
                            std::string("snapshots present: 0000aaaa, ") + kRev);
    }
    SECTION("refs/main empty, or a path") {
        for (const char* text : {"", "\n", "../../etc", "a/b"}) {
            INFO("refs/main: '" << text << "'");
            sutra::test::write_text(hub.repo() / "refs" / "main", text);
            SUTRA_REQUIRE_ERROR(Checkpoint::open(hub.repo()), Errc::bad_format,
                                "does not hold a snapshot name");
        }
    }
    SECTION("no snapshot at all") {
        fs::remove_all(hub.repo() / "snapshots");
        fs::create_directories(hub.repo() / "snapshots");
        SUTRA_REQUIRE_ERROR(Checkpoint::open(hub.repo()), Errc::not_found,
                            "no snapshot is present: the download did not finish");
    }
    SECTION("a link whose blob is missing is named, with its target") {
        fs::remove_all(hub.blobs());
        fs::create_directories(hub.blobs());
        SUTRA_REQUIRE_ERROR(Checkpoint::open(hub.repo()), Errc::not_found,
                            (hub.snapshot() / "model.safetensors").string(),
                            "is a dangling symbolic link", "../../blobs/");
    }
    SECTION("a link loop in a snapshot fails at once") {
        fs::remove(hub.snapshot() / "model.safetensors");
        fs::create_symlink("b.safetensors", hub.snapshot() / "a.safetensors");
        fs::create_symlink("a.safetensors", hub.snapshot() / "b.safetensors");
        sutra::test::write_text(hub.repo() / "refs" / "main", kRev);
        auto r = Checkpoint::open(hub.snapshot() / "a.safetensors");
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains("a.safetensors"));
    }
}

TEST_CASE("model path: every command on a hub cache model; blobs/ and snapshots/ untouched",
          "[io][hub][cli]") {
    TempDir tmp;
    HubRepo hub(tmp.path());
    hub.add("model.safetensors", tiny_model().bytes());
    hub.add_text("config.json", kConfig);
    const fs::path old_output_blob = hub.add("old.qbin", Bytes(16, 7));
    fs::create_directories(tmp / "out");
    const auto before = tree(hub.repo());

    const fs::path q = tmp / "out" / "tiny.qbin";
    auto run = sutra::test::run_sutra(
        {"quantize", hub.repo().string(), "-o", q.string(), "--method", "rtn"});
    INFO(run.err);
    REQUIRE(run.code == 0);
    // The .qbin carries the config.json read through the snapshot's link.
    auto info = sutra::test::run_sutra({"inspect", q.string(), "--json"});
    REQUIRE(info.code == 0);
    CHECK_THAT(info.out, Catch::Contains("from-the-snapshot"));

    auto insp = sutra::test::run_sutra({"inspect", hub.repo().string()});
    INFO(insp.err);
    CHECK(insp.code == 0);
    CHECK_THAT(insp.out, Catch::Contains("model.layers.0.mlp.up_proj.weight"));
    auto val = sutra::test::run_sutra({"validate", q.string(), "--against", hub.repo().string()});
    INFO(val.out << val.err);
    CHECK(val.code == 0);
    auto deq = sutra::test::run_sutra(
        {"dequantize", q.string(), "-o", (tmp / "out" / "back.safetensors").string()});
    CHECK(deq.code == 0);
    CHECK(sutra::test::listing(tmp / "out") ==
          std::vector<std::string>{"back.safetensors", "tiny.qbin"});

    // An output given inside the snapshot lands there as a file, even over a link into blobs/
    // (--force replaces the link, never the blob it points at).
    const fs::path in_snap = hub.snapshot() / "old.qbin";
    run = sutra::test::run_sutra(
        {"quantize", hub.repo().string(), "-o", in_snap.string(), "--method", "rtn", "--force"});
    INFO(run.err);
    REQUIRE(run.code == 0);
    CHECK_FALSE(fs::is_symlink(in_snap));
    CHECK(fs::is_regular_file(in_snap));
    CHECK(sutra::test::read_bytes(old_output_blob) == Bytes(16, 7));

    // The output onto the input's own link is refused.
    sutra::test::check_one_line_error(
        sutra::test::run_sutra({"quantize", hub.repo().string(), "-o",
                                (hub.snapshot() / "model.safetensors").string(), "--force"}),
        {"the output is the input"});

    auto after = tree(hub.repo());
    after.erase("snapshots/" + std::string(kRev) + "/old.qbin");
    auto expected = before;
    expected.erase("snapshots/" + std::string(kRev) + "/old.qbin");
    CHECK(after == expected);
}

TEST_CASE("model path: stories260K from a hub cache layout: eval and validate run on it",
          "[io][hub][cli][shared]") {
    const fs::path src = sutra::test::shared_dir() / "models" / "stories260K-hf-bf16-sharded";
    const fs::path text = sutra::test::shared_dir() / "text" / "tinystories_eval.txt";
    if (!fs::exists(src / "model.safetensors.index.json") || !fs::exists(text)) {
        WARN("skipped: " << src << " not found");
        return;
    }
    TempDir tmp;
    HubRepo hub(tmp.path());
    for (const auto& e : fs::directory_iterator(src))
        hub.add(e.path().filename().string(), sutra::test::read_bytes(e.path()));
    const auto before = tree(hub.repo());

    const fs::path q = tmp / "q.qbin";
    auto run = sutra::test::run_sutra({"quantize", hub.repo().string(), "-o", q.string()});
    INFO(run.err);
    REQUIRE(run.code == 0);
    // eval reads config.json and the tokenizer (tok512.bin) through the snapshot's links.
    auto ev = sutra::test::run_sutra(
        {"eval", hub.repo().string(), "--text", text.string(), "--max-tokens", "300"});
    INFO(ev.out << ev.err);
    CHECK(ev.code == 0);
    auto val = sutra::test::run_sutra({"validate", q.string(), "--against", hub.repo().string(),
                                       "--text", text.string(), "--max-tokens", "300",
                                       "--max-ppl-increase", "1000"});
    INFO(val.out << val.err);
    CHECK(val.code == 0);
    CHECK(tree(hub.repo()) == before);
}
