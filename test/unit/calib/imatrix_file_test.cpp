// llama.cpp importance matrices: both layouts parsed from files written by the test from the
// layout description (unit/calib/imatrix_test_support.hpp), hostile inputs refused with the
// offset or entry named, and llama.cpp's tensor names mapped to the checkpoint's linears.
#include "sutra/calib/imatrix_file.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "unit/calib/imatrix_test_support.hpp"

using namespace sutra;
using namespace sutra::test::imatrix;
using test::TempDir;

namespace {

// stories260K's shape with two layers: hidden 64, 8 heads of 8 (q width 64), 4 KV heads,
// intermediate 172.
model::LlamaConfig small_config() {
    model::LlamaConfig c;
    c.model_type = "llama";
    c.hidden_size = 64;
    c.intermediate_size = 172;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 8;
    c.num_key_value_heads = 4;
    c.head_dim = 8;
    c.vocab_size = 512;
    return c;
}

std::vector<float> ramp(size_t n, float base) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = base + 0.25f * static_cast<float>(i);
    return v;
}

// Every matrix llama.cpp records for `c` (without output.weight), values per entry distinct.
std::vector<LegacyEntry> full_legacy(const model::LlamaConfig& c, int32_t ncall = 4) {
    std::vector<LegacyEntry> v;
    for (int l = 0; l < c.num_hidden_layers; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        const auto H = static_cast<size_t>(c.hidden_size);
        const auto I = static_cast<size_t>(c.intermediate_size);
        const auto QW = static_cast<size_t>(c.q_width());
        const float k = static_cast<float>(10 * l);
        for (const char* n : {"attn_q", "attn_k", "attn_v"})
            v.push_back({b + n + ".weight", ncall, ramp(H, 1.0f + k)});
        v.push_back({b + "attn_output.weight", ncall, ramp(QW, 2.0f + k)});
        for (const char* n : {"ffn_gate", "ffn_up"})
            v.push_back({b + n + ".weight", ncall, ramp(H, 3.0f + k)});
        v.push_back({b + "ffn_down.weight", ncall, ramp(I, 4.0f + k)});
    }
    return v;
}

std::vector<GgufTensor> full_gguf(const model::LlamaConfig& c, float tokens = 1024) {
    std::vector<GgufTensor> t;
    for (const auto& e : full_legacy(c, 1))
        add_gguf_entry(t, e.name, e.values, tokens);
    return t;
}

Result<calib::Imatrix> parse_legacy(const Bytes& b) {
    return calib::parse_imatrix_legacy(b, "m.imatrix");
}
Result<calib::Imatrix> parse_gguf(const Bytes& b) {
    return calib::parse_imatrix_gguf(b, "m.gguf");
}

}  // namespace

TEST_CASE("imatrix legacy: means are the stored values over ncall; the trailer is read",
          "[imatrix]") {
    const Bytes b = legacy_file(
        {{"blk.0.attn_q.weight", 4, {4.0f, 2.0f, 0.0f}}, {"output.weight", 2, {1.0f, 3.0f}}}, 2, 37,
        "data/calib.txt");
    auto m = parse_legacy(b);
    SUTRA_REQUIRE_OK(m);
    CHECK(m->info.layout == calib::ImatrixLayout::legacy);
    CHECK(m->info.chunk_count == 37);
    CHECK(m->info.chunk_size == -1);
    CHECK(m->info.datasets == std::vector<std::string>{"data/calib.txt"});
    REQUIRE(m->entries.size() == 2);
    CHECK(m->entries[0].name == "blk.0.attn_q.weight");
    CHECK(m->entries[0].mean_sq == std::vector<float>{1.0f, 0.5f, 0.0f});
    CHECK(m->entries[0].tokens == 0);
    CHECK(m->entries[1].name == "output.weight");
    CHECK(m->entries[1].mean_sq == std::vector<float>{0.5f, 1.5f});

    // Older files end after the entries, or after the chunk count.
    for (int trailer : {0, 1}) {
        auto o = parse_legacy(legacy_file({{"blk.0.attn_q.weight", 1, {2.0f}}}, trailer, 5));
        SUTRA_REQUIRE_OK(o);
        CHECK(o->info.chunk_count == (trailer == 1 ? 5 : -1));
        CHECK(o->info.datasets.empty());
        CHECK(o->entries[0].mean_sq == std::vector<float>{2.0f});
    }
    // An empty dataset name is recorded as none.
    auto e = parse_legacy(legacy_file({{"blk.0.attn_q.weight", 1, {2.0f}}}, 2, 5, ""));
    SUTRA_REQUIRE_OK(e);
    CHECK(e->info.datasets.empty());
}

TEST_CASE("imatrix gguf: means are in_sum2 over counts; metadata read, in_sum ignored",
          "[imatrix]") {
    std::vector<GgufTensor> t;
    add_gguf_entry(t, "blk.0.attn_q.weight", {1.0f, 0.5f, 0.0f}, 512);
    t.push_back({"blk.0.attn_q.weight.in_sum", {3, 1}, {-7.0f, 1.0f, 0.0f}});
    add_gguf_entry(t, "output.weight", {2.0f, 4.0f}, 100);
    auto m = parse_gguf(gguf_file(imatrix_kvs(12, 128), t));
    SUTRA_REQUIRE_OK(m);
    CHECK(m->info.layout == calib::ImatrixLayout::gguf);
    CHECK(m->info.chunk_count == 12);
    CHECK(m->info.chunk_size == 128);
    CHECK(m->info.datasets == std::vector<std::string>{"tinystories_calib.txt"});
    REQUIRE(m->entries.size() == 2);
    CHECK(m->entries[0].name == "blk.0.attn_q.weight");
    CHECK(m->entries[0].mean_sq == std::vector<float>{1.0f, 0.5f, 0.0f});
    CHECK(m->entries[0].tokens == 512);
    CHECK(m->entries[1].mean_sq == std::vector<float>{2.0f, 4.0f});
    CHECK(m->entries[1].tokens == 100);

    // Metadata is optional (llama-imatrix always writes it); a 1-D in_sum2 is one matrix.
    auto bare = parse_gguf(gguf_file({}, {{"blk.1.ffn_down.weight.in_sum2", {2}, {3.0f, 6.0f}},
                                          {"blk.1.ffn_down.weight.counts", {1}, {3.0f}}}));
    SUTRA_REQUIRE_OK(bare);
    CHECK(bare->info.chunk_count == -1);
    CHECK(bare->entries[0].mean_sq == std::vector<float>{1.0f, 2.0f});
    // parse_imatrix picks the layout by the magic.
    auto any = calib::parse_imatrix(gguf_file(imatrix_kvs(), t), "x");
    SUTRA_REQUIRE_OK(any);
    CHECK(any->info.layout == calib::ImatrixLayout::gguf);
    auto any2 = calib::parse_imatrix(legacy_file({{"blk.0.attn_q.weight", 1, {2.0f}}}), "x");
    SUTRA_REQUIRE_OK(any2);
    CHECK(any2->info.layout == calib::ImatrixLayout::legacy);
}

TEST_CASE("imatrix: every truncation of a valid file is refused, never a crash", "[imatrix]") {
    const Bytes legacy = legacy_file(full_legacy(small_config()), 2, 9, "calib.txt");
    // The two places where an older file may end: after the entries, after the chunk count.
    const size_t entries_end = legacy.size() - 4 - 4 - 9;
    for (size_t n = 0; n < legacy.size(); ++n) {
        auto r = parse_legacy(Bytes(legacy.begin(), legacy.begin() + static_cast<long>(n)));
        if (n == entries_end || n == entries_end + 4) {
            CHECK(r.ok());
            continue;
        }
        INFO("legacy cut at " << n);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::bad_format);
        CHECK_THAT(r.error().message, Catch::Contains("m.imatrix"));
    }
    const Bytes gguf = gguf_file(imatrix_kvs(), full_gguf(small_config()));
    size_t accepted = 0;
    for (size_t n = 0; n < gguf.size(); ++n) {
        auto r = parse_gguf(Bytes(gguf.begin(), gguf.begin() + static_cast<long>(n)));
        // Only the zero padding after the last tensor's values may go.
        if (r.ok()) {
            ++accepted;
            CHECK(n > gguf.size() - 32);
        } else {
            CHECK_THAT(r.error().message, Catch::Contains("m.gguf"));
        }
    }
    CHECK(accepted < 32);
}

TEST_CASE("imatrix legacy: hostile inputs fail with the offset and the entry named", "[imatrix]") {
    auto fails = [](const Bytes& b, const std::string& words) {
        auto r = parse_legacy(b);
        INFO(words);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Errc::bad_format);
        CHECK_THAT(r.error().message, Catch::Contains("m.imatrix: byte "));
        CHECK_THAT(r.error().message, Catch::Contains(words));
    };
    const std::string q = "blk.0.attn_q.weight";
    // Counts and lengths larger than the file (no allocation of that size is attempted).
    {
        Bytes b;
        put_i32(b, 0x7fffffff);
        put_i32(b, 5);
        put_str(b, "abcde");
        fails(b, "entry count 2147483647 is out of range");
    }
    fails(legacy_file({}, 0), "entry count 0");
    {
        Bytes b;
        put_i32(b, -3);
        fails(b, "entry count -3");
    }
    {
        Bytes b = legacy_file({{q, 1, {1.0f}}}, 0);
        // nval (at byte 4 + 4 + 19 + 4) rewritten to 2^30.
        const size_t at = 4 + 4 + q.size() + 4;
        b[at] = 0;
        b[at + 1] = 0;
        b[at + 2] = 0;
        b[at + 3] = 0x40;
        fails(b, "nval 1073741824 does not fit");
    }
    {
        Bytes b;
        put_i32(b, 1);
        put_i32(b, 1 << 20);
        for (int i = 0; i < 20; ++i)
            put_str(b, "x");
        fails(b, "name length 1048576 is out of range");
    }
    fails(legacy_file({{"", 1, {1.0f, 2.0f}}}, 0), "entry 0: name length 0");
    fails(legacy_file({{"blk.0\n", 1, {1.0f}}}, 0), "not printable");
    fails(legacy_file({{q, 1, {}}}, 0), "nval 0");
    fails(legacy_file({{q, 0, {1.0f}}}, 0), "ncall 0");
    fails(legacy_file({{q, -1, {1.0f}}}, 0), "ncall -1");
    // Values: NaN, infinite, negative.
    fails(legacy_file({{q, 1, {1.0f, std::numeric_limits<float>::quiet_NaN()}}}, 0),
          "value 1 is nan");
    fails(legacy_file({{q, 1, {std::numeric_limits<float>::infinity()}}}, 0), "value 0 is inf");
    fails(legacy_file({{q, 1, {-0.5f}}}, 0), "value 0 is -0.5");
    // The same name twice.
    fails(legacy_file({{q, 1, {1.0f}}, {q, 1, {2.0f}}}, 0), "entry 1 '" + q + "' appears twice");
    // Trailers that are not the chunk count and dataset name.
    {
        Bytes b = legacy_file({{q, 1, {1.0f}}}, 0);
        b.push_back(7);
        fails(b, "the chunk count needs 4 bytes");
    }
    {
        Bytes b = legacy_file({{q, 1, {1.0f}}}, 2, 3, "abc");
        b.push_back('d');
        fails(b, "dataset name length 3 does not match the 4 bytes left");
    }
    fails(legacy_file({{q, 1, {1.0f}}}, 1, -2), "chunk count -2 is negative");
}

TEST_CASE("imatrix gguf: hostile and foreign inputs fail naming the entry", "[imatrix]") {
    auto fails = [](const Bytes& b, Errc code, const std::string& words) {
        auto r = parse_gguf(b);
        INFO(words);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == code);
        CHECK_THAT(r.error().message, Catch::Contains("m.gguf"));
        CHECK_THAT(r.error().message, Catch::Contains(words));
    };
    const std::string q = "blk.0.attn_q.weight";
    auto one = [&](std::vector<float> sums, std::vector<uint64_t> dims, std::vector<float> counts,
                   std::vector<uint64_t> cdims) {
        return gguf_file(imatrix_kvs(), {{q + ".in_sum2", std::move(dims), std::move(sums)},
                                         {q + ".counts", std::move(cdims), std::move(counts)}});
    };
    fails(one({1, 2}, {2, 1}, {0}, {1, 1}), Errc::bad_format, "token count 0.0");
    fails(one({1, 2}, {2, 1}, {2.5f}, {1, 1}), Errc::bad_format, "token count 2.5");
    fails(one({1, 2}, {2, 1}, {-1}, {1, 1}), Errc::bad_format, "token count -1");
    fails(one({1, std::numeric_limits<float>::quiet_NaN()}, {2, 1}, {4}, {1, 1}), Errc::bad_format,
          "value 1 is nan");
    fails(one({-1, 2}, {2, 1}, {4}, {1, 1}), Errc::bad_format, "value 0 is -1");
    // Experts: one entry over several matrices (a 3-D weight in llama.cpp).
    fails(one({1, 2, 3, 4}, {2, 2}, {4, 4}, {1, 2}), Errc::unsupported, "mixture-of-experts");
    fails(one({1, 2, 3, 4}, {2, 2}, {4}, {1, 1}), Errc::bad_format, "do not describe the same");
    fails(one({1, 2}, {1, 1, 2}, {4}, {1, 1}), Errc::bad_format, "3 dimensions");
    fails(gguf_file(imatrix_kvs(), {{q + ".in_sum2", {2, 1}, {1, 2}}}), Errc::bad_format,
          "entry '" + q + "' has no .counts");
    fails(gguf_file(imatrix_kvs(), {{q + ".counts", {1, 1}, {1}}}), Errc::bad_format,
          "has no .in_sum2");
    fails(gguf_file(imatrix_kvs(), {}), Errc::bad_format, "no tensors");
    {
        std::vector<GgufTensor> t;
        add_gguf_entry(t, q, {1, 2}, 4);
        t.push_back({q + ".in_sum", {3, 1}, {1, 2, 3}});
        fails(gguf_file(imatrix_kvs(), t), Errc::bad_format, ".in_sum and .in_sum2 differ");
    }
    {
        // A GGUF model passed instead of its imatrix.
        auto kvs = imatrix_kvs();
        kvs[0].s = "model";
        fails(gguf_file(kvs, {{"token_embd.weight", {2, 2}, {1, 2, 3, 4}}}), Errc::bad_format,
              "general.type is \"model\": this GGUF file is not an importance matrix");
        fails(gguf_file({}, {{"token_embd.weight", {2, 2}, {1, 2, 3, 4}}}), Errc::bad_format,
              "tensor 'token_embd.weight' is not part of an importance matrix");
    }
    {
        auto kvs = imatrix_kvs();
        kvs[1] = {"imatrix.datasets", GgufKv::str, "calib.txt", 0, {}};
        std::vector<GgufTensor> t;
        add_gguf_entry(t, q, {1, 2}, 4);
        fails(gguf_file(kvs, t), Errc::bad_format, "imatrix.datasets is not an array of strings");
    }
    {
        // F16 sums: llama-imatrix writes F32 only. The dims must fit the type's block for the
        // header to be read at all.
        std::vector<GgufTensor> t;
        add_gguf_entry(t, q, {1, 2}, 4);
        t[0].type = 1;
        const auto r = parse_gguf(gguf_file(imatrix_kvs(), t));
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains("m.gguf"));
    }
}

TEST_CASE("imatrix: the kind of a --calib file is told by its first bytes", "[imatrix]") {
    using calib::CalibFileKind;
    const Bytes legacy = legacy_file({{"blk.0.attn_q.weight", 1, {1.0f}}});
    CHECK(calib::sniff_calib_file(legacy, legacy.size()) == CalibFileKind::imatrix_legacy);
    const Bytes gguf = gguf_file(imatrix_kvs(), full_gguf(small_config()));
    CHECK(calib::sniff_calib_file(gguf, gguf.size()) == CalibFileKind::imatrix_gguf);
    const Bytes st = test::st_raw(R"({"__metadata__":{"format":"sutra.calib"}})");
    CHECK(calib::sniff_calib_file(st, st.size()) == CalibFileKind::sutra_stats);
    const std::string text = "hello world, this is text";
    const Bytes t(text.begin(), text.end());
    CHECK(calib::sniff_calib_file(t, t.size()) == CalibFileKind::unknown);
    CHECK(calib::sniff_calib_file({}, 0) == CalibFileKind::unknown);
    // Through a path (the first bytes of the file).
    TempDir d;
    test::write_bytes(d / "a.dat", legacy);
    test::write_bytes(d / "b.gguf", gguf);
    test::write_bytes(d / "c.safetensors", st);
    CHECK(*calib::sniff_calib_path(d / "a.dat") == CalibFileKind::imatrix_legacy);
    CHECK(*calib::sniff_calib_path(d / "b.gguf") == CalibFileKind::imatrix_gguf);
    CHECK(*calib::sniff_calib_path(d / "c.safetensors") == CalibFileKind::sutra_stats);
    CHECK(calib::sniff_calib_path(d / "none").error().code == Errc::not_found);
}

TEST_CASE("imatrix: llama.cpp names map to the checkpoint's linears", "[imatrix]") {
    const auto c = small_config();
    auto entries = full_legacy(c);
    // Only q of q/k/v and only up of gate/up in layer 1: the others share their input.
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [](const LegacyEntry& e) {
                                     return e.name == "blk.1.attn_k.weight" ||
                                            e.name == "blk.1.attn_v.weight" ||
                                            e.name == "blk.1.ffn_gate.weight";
                                 }),
                  entries.end());
    entries.push_back({"output.weight", 4, ramp(64, 9.0f)});
    auto m = parse_legacy(legacy_file(entries));
    SUTRA_REQUIRE_OK(m);
    auto d = calib::imatrix_to_calibration(*m, c, "m.imatrix");
    SUTRA_REQUIRE_OK(d);
    CHECK(d->windows == 0);
    CHECK(d->seq_len == 0);
    CHECK(d->tokens.empty());
    CHECK(d->model == calib::ModelFingerprint::of(c));
    // Every linear of the model, and nothing else.
    std::vector<std::string> keys;
    for (const auto& [k, v] : d->linears)
        keys.push_back(k);
    std::vector<std::string> want;
    for (int l = 0; l < 2; ++l)
        for (const char* n : {"mlp.down_proj", "mlp.gate_proj", "mlp.up_proj", "self_attn.k_proj",
                              "self_attn.o_proj", "self_attn.q_proj", "self_attn.v_proj"})
            want.push_back("model.layers." + std::to_string(l) + "." + n);
    want.insert(want.begin(), "lm_head");
    std::sort(want.begin(), want.end());
    CHECK(keys == want);
    // Values: stored / ncall (4), and the right entry behind each key.
    auto mean = [&](const std::string& key) { return d->linears.at(key).mean_sq; };
    auto expect = [](size_t n, float base) {
        auto v = ramp(n, base);
        for (auto& x : v)
            x /= 4.0f;
        return v;
    };
    CHECK(mean("model.layers.0.self_attn.q_proj") == expect(64, 1.0f));
    CHECK(mean("model.layers.0.self_attn.o_proj") == expect(64, 2.0f));
    CHECK(mean("model.layers.0.mlp.up_proj") == expect(64, 3.0f));
    CHECK(mean("model.layers.0.mlp.down_proj") == expect(172, 4.0f));
    CHECK(mean("model.layers.1.self_attn.k_proj") == expect(64, 11.0f));  // from attn_q
    CHECK(mean("model.layers.1.self_attn.v_proj") == expect(64, 11.0f));
    CHECK(mean("model.layers.1.mlp.gate_proj") == expect(64, 13.0f));  // from ffn_up
    CHECK(mean("model.layers.1.mlp.down_proj") == expect(172, 14.0f));
    CHECK(mean("lm_head") == expect(64, 9.0f));
    for (const auto& [k, s] : d->linears) {
        CHECK(s.mean_abs.empty());
        CHECK(s.max_abs.empty());
    }
    // The GGUF layout gives the same statistics, with token counts.
    auto g = parse_gguf(gguf_file(imatrix_kvs(), full_gguf(c, 2048)));
    SUTRA_REQUIRE_OK(g);
    auto dg = calib::imatrix_to_calibration(*g, c, "m.gguf");
    SUTRA_REQUIRE_OK(dg);
    CHECK(dg->linears.at("model.layers.1.mlp.down_proj").mean_sq == ramp(172, 14.0f));
    CHECK(dg->linears.at("model.layers.1.mlp.down_proj").tokens == 2048);
}

TEST_CASE("imatrix: an imatrix of another model or architecture is refused in one line",
          "[imatrix]") {
    const auto c = small_config();
    auto refuse = [&](std::vector<LegacyEntry> entries, Errc code,
                      std::initializer_list<std::string> words) {
        auto m = parse_legacy(legacy_file(entries));
        SUTRA_REQUIRE_OK(m);
        auto d = calib::imatrix_to_calibration(*m, c, "m.imatrix");
        REQUIRE_FALSE(d.ok());
        CHECK(d.error().code == code);
        CHECK(d.error().message.find('\n') == std::string::npos);
        for (const auto& w : words)
            CHECK_THAT(d.error().message, Catch::Contains(w));
    };
    auto base = full_legacy(c);
    {
        auto e = base;
        e[0].values.resize(2048, 1.0f);  // blk.0.attn_q of a 2048-wide model
        refuse(e, Errc::invalid_argument,
               {"m.imatrix: entry 'blk.0.attn_q.weight' has 2048 input columns",
                "self_attn.q_proj has 64 (hidden_size)", "another model"});
    }
    {
        auto e = base;
        e[6].values.resize(100, 1.0f);  // blk.0.ffn_down
        refuse(e, Errc::invalid_argument, {"has 100 input columns", "172 (intermediate_size)"});
    }
    {
        auto e = base;
        e.push_back({"blk.2.attn_q.weight", 1, ramp(64, 1.0f)});
        refuse(e, Errc::invalid_argument,
               {"entry 'blk.2.attn_q.weight' is for layer 2", "this model has 2 layers",
                "another model"});
    }
    {
        auto e = base;  // a 1-layer model's imatrix
        e.resize(7);
        refuse(e, Errc::invalid_argument,
               {"no entry for blk.1.attn_q/attn_k/attn_v.weight", "stops at layer 0"});
    }
    {
        auto e = base;
        e.erase(e.begin() + 3);  // blk.0.attn_output
        refuse(e, Errc::invalid_argument, {"no entry for blk.0.attn_output.weight"});
    }
    {
        auto e = base;
        e.push_back({"blk.0.ffn_gate_exps.weight", 1, ramp(64, 1.0f)});
        refuse(e, Errc::unsupported, {"'blk.0.ffn_gate_exps.weight'", "mixture-of-experts"});
    }
    {
        auto e = base;
        e.push_back({"blk.0.attn_qkv.weight", 1, ramp(64, 1.0f)});
        refuse(e, Errc::unsupported, {"fused q/k/v"});
    }
    for (const char* name : {"token_embd.weight", "blk.0.attn_q.bias", "blk.00.attn_q.weight",
                             "blk.0.time_mix_key.weight"}) {
        auto e = base;
        e.push_back({name, 1, ramp(64, 1.0f)});
        refuse(e, Errc::unsupported, {std::string("'") + name + "'", "not a linear layer"});
    }
}

TEST_CASE("imatrix: load_imatrix reads a file and refuses folders", "[imatrix]") {
    TempDir d;
    const auto c = small_config();
    test::write_bytes(d / "m.imatrix", legacy_file(full_legacy(c), 2, 3, "t.txt"));
    calib::ImatrixInfo info;
    auto r = calib::load_imatrix(d / "m.imatrix", c, &info);
    SUTRA_REQUIRE_OK(r);
    CHECK(info.layout == calib::ImatrixLayout::legacy);
    CHECK(info.chunk_count == 3);
    CHECK(r->linears.size() == 14);
    test::write_bytes(d / "m.gguf", gguf_file(imatrix_kvs(7, 64), full_gguf(c)));
    auto g = calib::load_imatrix(d / "m.gguf", c, &info);
    SUTRA_REQUIRE_OK(g);
    CHECK(info.layout == calib::ImatrixLayout::gguf);
    CHECK(info.chunk_size == 64);
    SUTRA_REQUIRE_ERROR(calib::load_imatrix(d.path(), c), Errc::invalid_argument, "folder");
    SUTRA_REQUIRE_ERROR(calib::load_imatrix(d / "none", c), Errc::not_found);
}
