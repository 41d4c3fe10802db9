#include "sutra/calib/stats_file.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/calib/collect.hpp"
#include "sutra/io/checkpoint.hpp"
#include "unit/model/model_test_support.hpp"

using namespace sutra;
using sutra::model::Llama;
using sutra::test::Bytes;
using sutra::test::TempDir;
namespace fx = sutra::test::model;

namespace {

calib::CalibrationData tiny_stats(const model::LlamaConfig& cfg) {
    auto w = fx::tiny_weights(cfg);
    auto m = Llama::create(cfg, w);
    REQUIRE(m.ok());
    std::vector<int32_t> text(50);
    for (size_t i = 0; i < text.size(); ++i)
        text[i] = static_cast<int32_t>(3 + (i * 7) % 37);
    auto st = calib::collect_stats(*m, text, 8, 0);
    REQUIRE(st.ok());
    return std::move(st).value();
}

// A calibration file's contents, editable, and written back as a valid safetensors file.
struct Parts {
    std::vector<std::pair<std::string, std::string>> meta;
    struct T {
        std::string name, dtype;
        std::vector<uint64_t> shape;
        Bytes data;
    };
    std::vector<T> tensors;

    static Parts read(const std::filesystem::path& p) {
        auto ck = io::Checkpoint::open(p);
        REQUIRE(ck.ok());
        Parts out;
        out.meta = ck->metadata();
        for (const auto& t : ck->tensors()) {
            Bytes b(t.nbytes);
            REQUIRE(ck->read_raw(t, 0, b).ok());
            out.tensors.push_back({t.name, std::string(dtype_name(t.dtype)), t.shape, b});
        }
        return out;
    }
    void write(const std::filesystem::path& p) const {
        test::StBuilder b;
        for (const auto& [k, v] : meta)
            b.meta(k, v);
        for (const auto& t : tensors)
            b.tensor(t.name, t.dtype, t.shape, t.data);
        b.write(p);
    }
    T& tensor(const std::string& name) {
        for (auto& t : tensors)
            if (t.name == name) return t;
        FAIL("no tensor " << name);
        return tensors.front();
    }
    void set_meta(const std::string& key, const std::string& value) {
        for (auto& [k, v] : meta)
            if (k == key) v = value;
    }
    void set_f32(const std::string& name, size_t i, float v) {
        std::memcpy(tensor(name).data.data() + 4 * i, &v, 4);
    }
};

}  // namespace

TEST_CASE("calib: save then load gives the same data, and the same bytes every time", "[calib]") {
    const auto cfg = fx::tiny_config();
    const auto st = tiny_stats(cfg);
    TempDir d;
    SUTRA_REQUIRE_OK(calib::save_calibration(st, d / "a.safetensors", false));
    SUTRA_REQUIRE_OK(calib::save_calibration(st, d / "b.safetensors", false));
    CHECK(test::read_bytes(d / "a.safetensors") == test::read_bytes(d / "b.safetensors"));

    auto back = calib::load_calibration(d / "a.safetensors", cfg);
    SUTRA_REQUIRE_OK(back);
    CHECK(*back == st);

    // The documented layout (STATS.md): metadata, the windows first, then per linear in
    // forward order its three statistics and token count.
    const Parts p = Parts::read(d / "a.safetensors");
    REQUIRE(p.meta.size() >= 6);
    CHECK(p.meta[0] == std::pair<std::string, std::string>{"format", "sutra.calib"});
    CHECK(p.meta[1] == std::pair<std::string, std::string>{"format_version", "1"});
    REQUIRE(p.tensors.size() == 1 + 15 * 4);
    CHECK(p.tensors[0].name == "calib.tokens");
    CHECK(p.tensors[0].dtype == "I32");
    CHECK(p.tensors[0].shape == std::vector<uint64_t>{7, 8});
    CHECK(p.tensors[1].name == "model.layers.0.self_attn.q_proj.mean_abs");
    CHECK(p.tensors[2].name == "model.layers.0.self_attn.q_proj.mean_sq");
    CHECK(p.tensors[3].name == "model.layers.0.self_attn.q_proj.max_abs");
    CHECK(p.tensors[4].name == "model.layers.0.self_attn.q_proj.tokens");
    CHECK(p.tensors[4].dtype == "I64");
    CHECK(p.tensors[4].shape.empty());
    CHECK(p.tensors[25].name == "model.layers.0.mlp.down_proj.mean_abs");
    CHECK(p.tensors[25].shape == std::vector<uint64_t>{24});
    CHECK(p.tensors[57].name == "lm_head.mean_abs");
}

TEST_CASE("calib: an existing output needs force; the input is never overwritten", "[calib]") {
    const auto cfg = fx::tiny_config();
    const auto st = tiny_stats(cfg);
    TempDir d;
    SUTRA_REQUIRE_OK(calib::save_calibration(st, d / "s.safetensors", false));
    SUTRA_REQUIRE_ERROR(calib::save_calibration(st, d / "s.safetensors", false), Errc::exists,
                        "--force");
    SUTRA_REQUIRE_OK(calib::save_calibration(st, d / "s.safetensors", true));
    test::write_text(d / "model.safetensors", "x");
    SUTRA_REQUIRE_ERROR(
        calib::save_calibration(st, d / "model.safetensors", true, {d / "model.safetensors"}),
        Errc::invalid_argument, "input");

    auto bad = st;
    bad.tokens.pop_back();
    SUTRA_REQUIRE_ERROR(calib::save_calibration(bad, d / "t.safetensors", false),
                        Errc::invalid_argument, "windows");
    bad = st;
    bad.linears.begin()->second.max_abs.pop_back();
    SUTRA_REQUIRE_ERROR(calib::save_calibration(bad, d / "t.safetensors", false),
                        Errc::invalid_argument, "different lengths");
    CHECK_FALSE(std::filesystem::exists(d / "t.safetensors"));
}

TEST_CASE("calib: a calibration file made for another model is refused", "[calib]") {
    const auto cfg = fx::tiny_config();
    TempDir d;
    SUTRA_REQUIRE_OK(calib::save_calibration(tiny_stats(cfg), d / "s.safetensors", false));

    auto other = cfg;
    other.hidden_size = 32;
    other.head_dim = 8;
    SUTRA_REQUIRE_ERROR(calib::load_calibration(d / "s.safetensors", other), Errc::invalid_argument,
                        "hidden_size 16", "this model has 32", "sutra calibrate");
    other = cfg;
    other.num_hidden_layers = 3;
    SUTRA_REQUIRE_ERROR(calib::load_calibration(d / "s.safetensors", other), Errc::invalid_argument,
                        "num_hidden_layers 2", "has 3");
    other = cfg;
    other.vocab_size = 41;
    SUTRA_REQUIRE_ERROR(calib::load_calibration(d / "s.safetensors", other), Errc::invalid_argument,
                        "vocab_size");
    other = cfg;
    other.model_type = "qwen2";
    SUTRA_REQUIRE_ERROR(calib::load_calibration(d / "s.safetensors", other), Errc::invalid_argument,
                        "model_type");
}

TEST_CASE("calib: damaged calibration files are refused, each with its own error", "[calib]") {
    const auto cfg = fx::tiny_config();
    TempDir d;
    const auto good = d / "good.safetensors";
    SUTRA_REQUIRE_OK(calib::save_calibration(tiny_stats(cfg), good, false));
    const Parts base = Parts::read(good);
    const auto bad = d / "bad.safetensors";
    const std::string q = "model.layers.0.self_attn.q_proj";

    struct Case {
        const char* what;
        std::function<void(Parts&)> edit;
        Errc code;
        std::vector<std::string> words;
    };
    const std::vector<Case> cases = {
        {"no format",
         [](Parts& p) { p.meta.clear(); },
         Errc::bad_format,
         {"not a sutra calibration file", "sutra calibrate"}},
        {"other format",
         [](Parts& p) { p.set_meta("format", "sutra.qbin"); },
         Errc::bad_format,
         {"not a sutra calibration file"}},
        {"newer version",
         [](Parts& p) { p.set_meta("format_version", "2"); },
         Errc::unsupported,
         {"version 2"}},
        {"version not a number",
         [](Parts& p) { p.set_meta("format_version", "1x"); },
         Errc::bad_format,
         {"format_version", "not an integer"}},
        {"model not JSON", [](Parts& p) { p.set_meta("model", "{"); }, Errc::bad_format, {"model"}},
        {"model without a field",
         [](Parts& p) { p.set_meta("model", "{\"model_type\":\"llama\"}"); },
         Errc::bad_format,
         {"hidden_size"}},
        {"seq_len disagrees with the windows",
         [](Parts& p) { p.set_meta("seq_len", "9"); },
         Errc::bad_format,
         {"calib.tokens", "[7, 9]"}},
        {"seq_len 1",
         [](Parts& p) { p.set_meta("seq_len", "1"); },
         Errc::bad_format,
         {"out of range"}},
        {"bos outside the vocabulary",
         [](Parts& p) { p.set_meta("bos_token_id", "99"); },
         Errc::bad_format,
         {"bos_token_id 99"}},
        {"missing tensor",
         [&](Parts& p) {
             std::erase_if(p.tensors, [&](const Parts::T& t) { return t.name == q + ".max_abs"; });
         },
         Errc::bad_format,
         {q + ".max_abs", "missing"}},
        {"extra tensor",
         [](Parts& p) {
             p.tensors.push_back(
                 {"model.layers.9.mlp.up_proj.mean_abs", "F32", {1}, test::f32_bytes({1.0f})});
         },
         Errc::bad_format,
         {"model.layers.9.mlp.up_proj.mean_abs", "does not belong"}},
        {"wrong dtype",
         [&](Parts& p) {
             auto& t = p.tensor(q + ".mean_abs");
             t.dtype = "I32";
         },
         Errc::bad_format,
         {q + ".mean_abs", "I32 [16]", "expected F32 [16]"}},
        {"wrong shape",
         [&](Parts& p) {
             auto& t = p.tensor(q + ".mean_sq");
             t.shape = {4, 4};
         },
         Errc::bad_format,
         {q + ".mean_sq", "[4, 4]"}},
        {"negative value",
         [&](Parts& p) { p.set_f32(q + ".mean_abs", 3, -0.5f); },
         Errc::bad_format,
         {q + ".mean_abs", "channel 3", "not negative"}},
        {"NaN",
         [&](Parts& p) { p.set_f32(q + ".max_abs", 0, NAN); },
         Errc::bad_format,
         {q + ".max_abs", "channel 0", "finite"}},
        {"mean above max",
         [&](Parts& p) { p.set_f32(q + ".mean_abs", 5, 1e6f); },
         Errc::bad_format,
         {q, "channel 5", "inconsistent"}},
        {"token count",
         [&](Parts& p) {
             int64_t n = 3;
             std::memcpy(p.tensor(q + ".tokens").data.data(), &n, 8);
         },
         Errc::bad_format,
         {q + ".tokens", "counts 3", "56"}},
        {"token id outside the vocabulary",
         [](Parts& p) {
             int32_t id = 40;
             std::memcpy(p.tensor("calib.tokens").data.data() + 4 * 10, &id, 4);
         },
         Errc::bad_format,
         {"window 1 position 2", "id 40"}},
        {"window without BOS",
         [](Parts& p) {
             int32_t id = 7;
             std::memcpy(p.tensor("calib.tokens").data.data() + 4 * 16, &id, 4);
         },
         Errc::bad_format,
         {"window 2", "bos_token_id"}},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        Parts p = base;
        c.edit(p);
        p.write(bad);
        const auto r = calib::load_calibration(bad, cfg);
        REQUIRE_FALSE(r.ok());
        INFO("message: " << r.error().message);
        CHECK(r.error().code == c.code);
        for (const auto& w : c.words)
            CHECK_THAT(r.error().message, Catch::Contains(w));
        CHECK_THAT(r.error().message, Catch::Contains("bad.safetensors"));
    }

    // Not a safetensors file at all, a truncated one, a folder, a missing file.
    test::write_text(bad, "hello, world");
    CHECK_FALSE(calib::load_calibration(bad, cfg).ok());
    const Bytes bytes = test::read_bytes(good);
    REQUIRE(bytes.size() > 100);
    test::write_bytes(bad, Bytes(bytes.begin(), bytes.end() - 10));
    SUTRA_REQUIRE_ERROR(calib::load_calibration(bad, cfg), Errc::bad_format);
    SUTRA_REQUIRE_ERROR(calib::load_calibration(d.path(), cfg), Errc::invalid_argument, "folder");
    SUTRA_REQUIRE_ERROR(calib::load_calibration(d / "none.safetensors", cfg), Errc::not_found);
}
