// Calibration statistics of every model family through the family interface (model/family.hpp):
//   - on the RWKV and Mamba fixtures, every linear's statistics equal a naive recomputation
//     from the model's own forward pass (each window through model::forward, its observer
//     keeping the inputs; sums in plain double loops here), and the linears recorded are
//     exactly those the forward pass reports; windows have a BOS only when the family has one;
//   - the file of a family round-trips, records the family's fingerprint, lists its tensors in
//     the documented order, and is refused for a model of another family or shape;
//   - for Llama, the path through the family interface writes the same bytes as the direct
//     Llama pass the calibration file was first made with (reimplemented here).
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/calib/collect.hpp"
#include "sutra/calib/stats_file.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/llama/llama_family.hpp"
#include "sutra/model/model_source.hpp"
#include "sutra/model/text_tokens.hpp"
#include "unit/model/model_test_support.hpp"

using namespace sutra;
using sutra::test::TempDir;
namespace fs = std::filesystem;
namespace fx = sutra::test::model;

namespace {

fs::path rwkv(const char* name) {
    return test::shared_dir() / "models" / "tiny-rwkv" / name;
}
fs::path mamba() {
    return test::shared_dir() / "models" / "tiny-mamba";
}
fs::path calib_text() {
    return test::shared_dir() / "text" / "tinystories_calib.txt";
}

// A model opened as `sutra calibrate` opens it, and its calibration text tokens.
struct Opened {
    model::ModelSource src;
    std::unique_ptr<model::Model> m;
    model::TextTokens text;
};

Opened open(const fs::path& path, int64_t seq_len, int64_t tokens) {
    Opened o;
    auto src = model::open_model(path, std::nullopt);
    SUTRA_REQUIRE_OK(src);
    o.src = std::move(*src);
    auto m = model::open_runtime(o.src);
    SUTRA_REQUIRE_OK(m);
    o.m = std::move(*m);
    model::TextInput in;
    in.texts = {calib_text()};
    auto t = model::load_calib_tokens(o.src.dir, o.m->info(), in, seq_len, tokens);
    SUTRA_REQUIRE_OK(t);
    o.text = std::move(*t);
    return o;
}

calib::CollectOptions options(const Opened& o, int64_t seq_len, int64_t tokens) {
    calib::CollectOptions c;
    c.seq_len = seq_len;
    c.max_tokens = tokens;
    c.bos_id = o.text.window_start;
    c.window_batch = 3;  // several batches, the last one short
    return c;
}

std::string strip_weight(std::string s) {
    const std::string w = ".weight";
    if (s.size() > w.size() && s.compare(s.size() - w.size(), w.size(), w) == 0)
        s.resize(s.size() - w.size());
    return s;
}

// Every input the forward pass gives each linear, rows of all windows back to back.
struct Inputs {
    int64_t cols = 0;
    std::vector<float> rows;
};

// Mean |x|, mean x^2 and max |x| per channel, the naive way: a channel at a time, over rows.
calib::ChannelStats naive_stats(const Inputs& in) {
    calib::ChannelStats s;
    const auto n = static_cast<int64_t>(in.rows.size()) / in.cols;
    s.tokens = static_cast<uint64_t>(n);
    for (int64_t c = 0; c < in.cols; ++c) {
        double sum_abs = 0.0, sum_sq = 0.0;
        float mx = 0.0f;
        for (int64_t r = 0; r < n; ++r) {
            const float a = std::fabs(in.rows[static_cast<size_t>(r * in.cols + c)]);
            sum_abs += static_cast<double>(a);
            sum_sq += static_cast<double>(a) * static_cast<double>(a);
            if (a > mx) mx = a;
        }
        s.mean_abs.push_back(static_cast<float>(sum_abs / static_cast<double>(n)));
        s.mean_sq.push_back(static_cast<float>(sum_sq / static_cast<double>(n)));
        s.max_abs.push_back(mx);
    }
    return s;
}

// The tensors of a calibration file in stored order, and its metadata.
struct FileView {
    std::vector<std::string> names;
    std::map<std::string, std::string> meta;
};
FileView view_file(const fs::path& p) {
    auto ck = io::Checkpoint::open(p);
    SUTRA_REQUIRE_OK(ck);
    FileView v;
    std::vector<const io::TensorRef*> refs;
    for (const auto& t : ck->tensors())
        refs.push_back(&t);
    std::sort(refs.begin(), refs.end(),
              [](const auto* a, const auto* b) { return a->file_offset < b->file_offset; });
    for (const auto* t : refs)
        v.names.push_back(t->name);
    for (const auto& [k, val] : ck->metadata())
        v.meta[k] = val;
    return v;
}

}  // namespace

TEST_CASE("calib families: every linear's statistics equal a naive recomputation",
          "[calib][family][shared]") {
    const std::vector<fs::path> models = {
        rwkv("tiny-rwkv-4v0-660K.safetensors"), rwkv("tiny-rwkv-4v0-660K-hf"),
        rwkv("tiny-rwkv-5v2-730K.safetensors"), rwkv("tiny-rwkv-6v0-1m.safetensors"),
        rwkv("tiny-rwkv-7v0-834K.safetensors"), mamba()};
    const int64_t seq_len = 24, budget = 7 * 24;
    for (const fs::path& path : models) {
        CAPTURE(path.filename().string());
        Opened o = open(path, seq_len, budget);
        model::Model& m = *o.m;
        auto st = calib::collect_stats(m, o.text.tokens, options(o, seq_len, budget));
        SUTRA_REQUIRE_OK(st);
        CHECK(st->seq_len == seq_len);
        CHECK(st->model == calib::ModelFingerprint::of(m));
        CHECK(st->model.family == m.info().family);

        // The windows: RWKV has no BOS (the text, seq_len tokens a window); Mamba starts each
        // window with its window-start token.
        const bool bos = m.info().bos_id >= 0;
        CHECK(bos == (m.info().family == "mamba"));
        const int64_t chunk = bos ? seq_len - 1 : seq_len;
        REQUIRE(st->windows == budget / chunk);
        CHECK(st->bos_id == (bos ? o.text.window_start : -1));
        for (int64_t w = 0; w < st->windows; ++w) {
            std::vector<int32_t> want;
            if (bos) want.push_back(o.text.window_start);
            for (int64_t i = 0; i < chunk; ++i)
                want.push_back(o.text.tokens[static_cast<size_t>(w * chunk + i)]);
            const auto* row = st->tokens.data() + w * seq_len;
            CHECK(std::vector<int32_t>(row, row + seq_len) == want);
        }

        // The reference: each window through the whole model, one at a time.
        std::map<std::string, Inputs> seen;
        m.set_linear_observer(
            [&](int layer, std::string_view linear, const float* x, int64_t rows, int64_t cols) {
                const std::string key =
                    layer < 0 ? "lm_head" : strip_weight(m.linear_tensor(layer, linear));
                Inputs& in = seen[key];
                in.cols = cols;
                in.rows.insert(in.rows.end(), x, x + rows * cols);
            });
        for (const auto& win : calib::windows_of(*st))
            REQUIRE(model::forward(m, win).ok());
        m.set_linear_observer(nullptr);

        std::set<std::string> seen_keys, keys;
        for (const auto& e : seen)
            seen_keys.insert(e.first);
        for (const auto& e : st->linears)
            keys.insert(e.first);
        CHECK(keys == seen_keys);
        CHECK(keys.count("lm_head"));
        for (const auto& [key, s] : st->linears) {
            INFO(key);
            REQUIRE(seen.count(key));
            const calib::ChannelStats want = naive_stats(seen.at(key));
            CHECK(s.tokens == static_cast<uint64_t>(st->windows * seq_len));
            CHECK(s.tokens == want.tokens);
            CHECK(s.mean_abs == want.mean_abs);
            CHECK(s.mean_sq == want.mean_sq);
            CHECK(s.max_abs == want.max_abs);
        }
    }
}

TEST_CASE("calib families: the file round-trips with the family's fingerprint and order",
          "[calib][family][shared]") {
    for (const fs::path& path : {rwkv("tiny-rwkv-7v0-834K.safetensors"), mamba()}) {
        CAPTURE(path.filename().string());
        Opened o = open(path, 32, 200);
        model::Model& m = *o.m;
        auto st = calib::collect_stats(m, o.text.tokens, options(o, 32, 200));
        SUTRA_REQUIRE_OK(st);
        TempDir d;
        const fs::path f = d / "stats.safetensors";
        SUTRA_REQUIRE_OK(calib::save_calibration(*st, f, false));
        auto back = calib::load_calibration(f, m);
        SUTRA_REQUIRE_OK(back);
        CHECK(*back == *st);

        const FileView v = view_file(f);
        CHECK(v.meta.at("format") == "sutra.calib");
        CHECK(v.meta.at("format_version") == "1");
        CHECK(v.meta.at("bos_token_id") == std::to_string(st->bos_id));
        const auto j = nlohmann::json::parse(v.meta.at("model"));
        int64_t weights = 0;
        for (int l = 0; l < m.info().num_layers; ++l)
            for (const auto& b : m.block_linears(l))
                weights += b.out * b.in;
        const nlohmann::json want = {{"family", m.info().family},
                                     {"variant", m.info().variant},
                                     {"hidden_size", m.info().hidden_size},
                                     {"num_layers", m.info().num_layers},
                                     {"vocab_size", m.info().vocab_size},
                                     {"linears", st->linears.size()},
                                     {"linear_weights", weights}};
        CHECK(j == want);
        CHECK(j.begin().key() == "family");

        // calib.tokens, then per layer its linears by name (4 tensors each), lm_head last.
        REQUIRE(v.names.size() == 1 + 4 * st->linears.size());
        CHECK(v.names.front() == "calib.tokens");
        std::vector<std::string> want_names;
        for (int l = 0; l < m.info().num_layers; ++l) {
            std::set<std::string> layer_keys;
            for (const auto& b : m.block_linears(l))
                layer_keys.insert(strip_weight(m.linear_tensor(l, b.name)));
            for (const auto& k : layer_keys)
                for (const char* s : {".mean_abs", ".mean_sq", ".max_abs", ".tokens"})
                    want_names.push_back(k + s);
        }
        for (const char* s : {".mean_abs", ".mean_sq", ".max_abs", ".tokens"})
            want_names.push_back(std::string("lm_head") + s);
        CHECK(std::vector<std::string>(v.names.begin() + 1, v.names.end()) == want_names);
    }
}

TEST_CASE("calib families: a file of another family or shape is refused, naming both",
          "[calib][family][shared]") {
    Opened r7 = open(rwkv("tiny-rwkv-7v0-834K.safetensors"), 16, 64);
    Opened r5 = open(rwkv("tiny-rwkv-5v2-730K.safetensors"), 16, 64);
    Opened mb = open(mamba(), 16, 64);
    TempDir d;
    const fs::path f7 = d / "r7.safetensors", fm = d / "m.safetensors";
    auto s7 = calib::collect_stats(*r7.m, r7.text.tokens, options(r7, 16, 64));
    SUTRA_REQUIRE_OK(s7);
    SUTRA_REQUIRE_OK(calib::save_calibration(*s7, f7, false));
    auto sm = calib::collect_stats(*mb.m, mb.text.tokens, options(mb, 16, 64));
    SUTRA_REQUIRE_OK(sm);
    SUTRA_REQUIRE_OK(calib::save_calibration(*sm, fm, false));

    SUTRA_REQUIRE_ERROR(calib::load_calibration(f7, *mb.m), Errc::invalid_argument,
                        "made for a rwkv 7 model (hidden_size 64, num_layers 12",
                        "this model is a mamba 1 model (hidden_size 128", "sutra calibrate");
    SUTRA_REQUIRE_ERROR(calib::load_calibration(fm, *r7.m), Errc::invalid_argument,
                        "made for a mamba 1 model", "this model is a rwkv 7 model");
    SUTRA_REQUIRE_ERROR(calib::load_calibration(f7, *r5.m), Errc::invalid_argument,
                        "made for a rwkv 7 model", "this model is a rwkv 5.2 model");

    // RWKV 4 in rwkv.cpp's naming and in Hugging Face's: one shape, other tensor names.
    Opened r4 = open(rwkv("tiny-rwkv-4v0-660K.safetensors"), 16, 64);
    Opened r4hf = open(rwkv("tiny-rwkv-4v0-660K-hf"), 16, 64);
    CHECK(calib::ModelFingerprint::of(*r4.m) == calib::ModelFingerprint::of(*r4hf.m));
    auto s4 = calib::collect_stats(*r4.m, r4.text.tokens, options(r4, 16, 64));
    SUTRA_REQUIRE_OK(s4);
    const fs::path f4 = d / "r4.safetensors";
    SUTRA_REQUIRE_OK(calib::save_calibration(*s4, f4, false));
    SUTRA_REQUIRE_OK(calib::load_calibration(f4, *r4.m));
    SUTRA_REQUIRE_ERROR(calib::load_calibration(f4, *r4hf.m), Errc::invalid_argument,
                        "'blocks.0.att.key'", "'rwkv.blocks.0.attention.receptance'",
                        "names its tensors otherwise", "sutra calibrate");

    // Llama files and family files are told apart in both directions.
    const auto cfg = fx::tiny_config();
    auto w = fx::tiny_weights(cfg);
    auto llama = model::Llama::create(cfg, w);
    REQUIRE(llama.ok());
    std::vector<int32_t> ids(100);
    for (size_t i = 0; i < ids.size(); ++i)
        ids[i] = static_cast<int32_t>(3 + (i * 11) % 37);
    auto sl = calib::collect_stats(*llama, ids, 8, 0);
    SUTRA_REQUIRE_OK(sl);
    const fs::path fl = d / "llama.safetensors";
    SUTRA_REQUIRE_OK(calib::save_calibration(*sl, fl, false));
    SUTRA_REQUIRE_ERROR(calib::load_calibration(fl, *r7.m), Errc::invalid_argument,
                        "made for a llama model (model_type \"llama\", hidden_size 16",
                        "this model is a rwkv 7 model");
    SUTRA_REQUIRE_ERROR(calib::load_calibration(f7, cfg), Errc::invalid_argument,
                        "made for a rwkv 7 model", "this model is a llama model");
    const auto view = model::llama::view(*llama);
    SUTRA_REQUIRE_ERROR(calib::load_calibration(f7, *view), Errc::invalid_argument,
                        "made for a rwkv 7 model", "this model is a llama model");
    SUTRA_REQUIRE_OK(calib::load_calibration(fl, *view));

    // A BOS in a file for a family that has none, and a fingerprint field missing.
    auto ck = io::Checkpoint::open(f7);
    SUTRA_REQUIRE_OK(ck);
    auto rewrite = [&](const std::string& key, const std::string& value, const fs::path& out) {
        test::StBuilder b;
        for (const auto& [k, v] : ck->metadata())
            b.meta(k, k == key ? value : v);
        for (const auto& t : ck->tensors()) {
            test::Bytes bytes(t.nbytes);
            REQUIRE(ck->read_raw(t, 0, bytes).ok());
            b.tensor(t.name, std::string(dtype_name(t.dtype)), t.shape, bytes);
        }
        b.write(out);
    };
    rewrite("bos_token_id", "0", d / "bos.safetensors");
    SUTRA_REQUIRE_ERROR(calib::load_calibration(d / "bos.safetensors", *r7.m), Errc::bad_format,
                        "bos_token_id 0", "rwkv");
    auto j = nlohmann::json::parse(ck->metadata().at(3).second);
    REQUIRE(ck->metadata().at(3).first == "model");
    j.erase("linear_weights");
    rewrite("model", j.dump(), d / "nofield.safetensors");
    SUTRA_REQUIRE_ERROR(calib::load_calibration(d / "nofield.safetensors", *r7.m), Errc::bad_format,
                        "linear_weights");
}

TEST_CASE("calib families: for Llama, the family path writes the bytes of the direct Llama pass",
          "[calib][family]") {
    for (bool bias : {false, true}) {
        const auto cfg = fx::tiny_config(bias);
        auto w = fx::tiny_weights(cfg, 5);
        auto m = model::Llama::create(cfg, w);
        REQUIRE(m.ok());
        const auto view = model::llama::view(*m);
        const std::vector<calib::LinearInput> generic = calib::linear_inputs(*view);
        const std::vector<calib::LinearInput> direct = calib::linear_inputs(cfg);
        REQUIRE(generic.size() == direct.size());
        for (size_t i = 0; i < direct.size(); ++i) {
            CHECK(generic[i].key == direct[i].key);
            CHECK(generic[i].layer == direct[i].layer);
            CHECK(generic[i].linear == direct[i].linear);
            CHECK(generic[i].in_features == direct[i].in_features);
        }

        std::vector<int32_t> text(90);
        for (size_t i = 0; i < text.size(); ++i)
            text[i] = static_cast<int32_t>(3 + (i * 13) % 37);
        calib::CollectOptions o;
        o.seq_len = 10;
        o.max_tokens = 0;
        o.window_batch = 4;
        auto st = calib::collect_stats(*view, text, o);
        SUTRA_REQUIRE_OK(st);

        // The direct pass, as calibration files were first made: Llama::embed and
        // Llama::run_block over the windows, lm_head's input = RMSNorm(h) * model.norm.
        auto win = calib::cut_windows(text, 10, 0, 1);
        SUTRA_REQUIRE_OK(win);
        std::map<std::string, Inputs> seen;
        m->set_linear_observer(
            [&](int layer, std::string_view linear, const float* x, int64_t rows, int64_t cols) {
                Inputs& in = seen[calib::linear_key(layer, linear)];
                in.cols = cols;
                in.rows.insert(in.rows.end(), x, x + rows * cols);
            });
        std::vector<model::Activations> xs(static_cast<size_t>(win->count));
        for (int64_t i = 0; i < win->count; ++i)
            REQUIRE(m->embed(std::span<const int32_t>(win->tokens.data() + i * 10, 10), 0,
                             xs[static_cast<size_t>(i)])
                        .ok());
        for (int l = 0; l < cfg.num_hidden_layers; ++l)
            REQUIRE(m->run_block(l, xs).ok());
        m->set_linear_observer(nullptr);
        const std::vector<float>& norm = w.data("model.norm.weight");
        Inputs& head = seen["lm_head"];
        head.cols = cfg.hidden_size;
        for (const auto& x : xs) {
            for (int64_t r = 0; r < x.rows; ++r) {
                const float* row = x.data.data() + r * x.cols;
                double ss = 0.0;
                for (int64_t c = 0; c < x.cols; ++c)
                    ss += static_cast<double>(row[c]) * static_cast<double>(row[c]);
                const auto inv = static_cast<float>(
                    1.0 / std::sqrt(ss / static_cast<double>(x.cols) + cfg.rms_norm_eps));
                for (int64_t c = 0; c < x.cols; ++c)
                    head.rows.push_back(row[c] * inv * norm[static_cast<size_t>(c)]);
            }
        }
        calib::CalibrationData ref;
        ref.model = calib::ModelFingerprint::of(cfg);
        ref.seq_len = 10;
        ref.windows = win->count;
        ref.bos_id = 1;
        ref.tokens = win->tokens;
        for (const auto& [key, in] : seen)
            ref.linears[key] = naive_stats(in);
        REQUIRE(ref.linears.size() == direct.size());
        for (const auto& [key, s] : ref.linears) {
            INFO(key);
            CHECK(st->linears.at(key) == s);
        }
        TempDir d;
        SUTRA_REQUIRE_OK(calib::save_calibration(*st, d / "new.safetensors", false));
        SUTRA_REQUIRE_OK(calib::save_calibration(ref, d / "ref.safetensors", false));
        CHECK(test::read_bytes(d / "new.safetensors") == test::read_bytes(d / "ref.safetensors"));
        // The Llama overload goes the same way.
        auto direct_st = calib::collect_stats(*m, text, o);
        SUTRA_REQUIRE_OK(direct_st);
        CHECK(*direct_st == *st);

        // The fingerprint keeps the first files' layout: no "family" key.
        const FileView v = view_file(d / "new.safetensors");
        const std::string want_model =
            std::string("{\"model_type\":\"") + (bias ? "qwen2" : "llama") +
            "\",\"hidden_size\":16,\"intermediate_size\":24,"
            "\"num_hidden_layers\":2,\"num_attention_heads\":4,"
            "\"num_key_value_heads\":2,\"head_dim\":4,\"vocab_size\":40}";
        CHECK(v.meta.at("model") == want_model);
        CHECK(v.names[1] == "model.layers.0.self_attn.q_proj.mean_abs");
        CHECK(v.names[5] == "model.layers.0.self_attn.k_proj.mean_abs");
        CHECK(v.names.back() == "lm_head.tokens");
    }
}
