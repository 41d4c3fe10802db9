// The GGUF header parser on files built byte by byte here (independent of the writer) and on
// the writer's output: round trip, every value type, nested arrays, and hostile headers.
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>

#include "support/paths.hpp"
#include "sutra/format/gguf_reader.hpp"
#include "sutra/format/gguf_writer.hpp"
#include "sutra/io/output_file.hpp"

using namespace sutra;
using namespace sutra::format;

namespace {

// A GGUF file written by hand, following the specification.
struct Raw {
    std::vector<uint8_t> b;
    template <class T>
    Raw& put(T v) {
        const size_t at = b.size();
        b.resize(at + sizeof(T));
        std::memcpy(b.data() + at, &v, sizeof(T));
        return *this;
    }
    Raw& str(const std::string& s) {
        put<uint64_t>(s.size());
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    Raw& header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
        b.insert(b.end(), {'G', 'G', 'U', 'F'});
        put<uint32_t>(version);
        put<uint64_t>(tensors);
        return put<uint64_t>(kvs);
    }
    Raw& kv_u32(const std::string& k, uint32_t v) {
        str(k);
        put<uint32_t>(4);
        return put<uint32_t>(v);
    }
    Raw& tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type,
                uint64_t offset) {
        str(name);
        put<uint32_t>(static_cast<uint32_t>(dims.size()));
        for (auto d : dims)
            put<uint64_t>(d);
        put<uint32_t>(type);
        return put<uint64_t>(offset);
    }
    Raw& pad_to(uint64_t align) {
        while (b.size() % align)
            b.push_back(0);
        return *this;
    }
    Raw& data(uint64_t n) {
        b.resize(b.size() + n, 0x11);
        return *this;
    }
};

const GgufValue& val(const GgufHeader& h, std::string_view key) {
    const GgufValue* v = h.find(key);
    INFO(key);
    REQUIRE(v != nullptr);
    return *v;
}

Result<GgufHeader> parse(const Raw& r) {
    return parse_gguf_header(r.b, r.b.size(), "test.gguf");
}

std::string fail_text(const Raw& r) {
    auto h = parse(r);
    REQUIRE_FALSE(h.ok());
    return h.error().message;
}

}  // namespace

TEST_CASE("gguf reader: a hand-built file with two tensors", "[gguf]") {
    Raw r;
    r.header(2, 2).kv_u32("general.alignment", 64);
    r.str("general.name").put<uint32_t>(8).str("tiny");
    r.tensor("a", {4, 2}, 0, 0).tensor("b", {32}, 8, 64);  // F32 [2 rows of 4], Q8_0 one block
    r.pad_to(64).data(64 + 34);
    auto h = parse(r);
    INFO((h.ok() ? "" : h.error().message));
    REQUIRE(h.ok());
    CHECK(h->version == 3);
    CHECK(h->alignment == 64);
    CHECK(h->data_start % 64 == 0);
    REQUIRE(h->tensors.size() == 2);
    CHECK(h->tensors[0].nbytes == 32);
    CHECK(h->tensors[0].dims == std::vector<uint64_t>{4, 2});
    CHECK(h->tensors[1].nbytes == 34);
    CHECK(h->tensors[1].offset == 64);
    CHECK(val(*h, "general.name").s == "tiny");
}

TEST_CASE("gguf reader: every value type, nested arrays", "[gguf]") {
    Raw r;
    r.header(0, 14);
    r.str("u8").put<uint32_t>(0).put<uint8_t>(200);
    r.str("i8").put<uint32_t>(1).put<int8_t>(-5);
    r.str("u16").put<uint32_t>(2).put<uint16_t>(60000);
    r.str("i16").put<uint32_t>(3).put<int16_t>(-30000);
    r.str("u32").put<uint32_t>(4).put<uint32_t>(4000000000u);
    r.str("i32").put<uint32_t>(5).put<int32_t>(-2000000000);
    r.str("f32").put<uint32_t>(6).put<float>(1.5f);
    r.str("bool").put<uint32_t>(7).put<uint8_t>(1);
    r.str("string").put<uint32_t>(8).str("h\xc3\xa9llo");
    r.str("u64").put<uint32_t>(10).put<uint64_t>(~uint64_t{0});
    r.str("i64").put<uint32_t>(11).put<int64_t>(-(int64_t{1} << 40));
    r.str("f64").put<uint32_t>(12).put<double>(-0.25);
    r.str("strings").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(2).str("a").str("");
    // An array of two arrays of i32: [[1, 2], []].
    r.str("nested").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(2);
    r.put<uint32_t>(5).put<uint64_t>(2).put<int32_t>(1).put<int32_t>(2);
    r.put<uint32_t>(5).put<uint64_t>(0);
    auto h = parse(r);
    INFO((h.ok() ? "" : h.error().message));
    REQUIRE(h.ok());
    CHECK(val(*h, "u8").as_uint() == 200u);
    CHECK(val(*h, "i8").as_int() == -5);
    CHECK(val(*h, "u16").as_uint() == 60000u);
    CHECK(val(*h, "i16").as_int() == -30000);
    CHECK(val(*h, "u32").as_uint() == 4000000000u);
    CHECK(val(*h, "i32").as_int() == -2000000000);
    CHECK(val(*h, "f32").as_float() == 1.5);
    CHECK(val(*h, "bool").as_uint() == 1u);
    CHECK(val(*h, "string").s == "h\xc3\xa9llo");
    CHECK(val(*h, "u64").as_uint() == ~uint64_t{0});
    CHECK_FALSE(val(*h, "u64").as_int().has_value());
    CHECK(val(*h, "i64").as_int() == -(int64_t{1} << 40));
    CHECK(val(*h, "f64").as_float() == -0.25);
    const auto* s = h->find("strings");
    REQUIRE(s->items.size() == 2);
    CHECK(s->items[1].s.empty());
    const auto* n = h->find("nested");
    REQUIRE(n->items.size() == 2);
    CHECK(n->items[0].elem == GgufType::i32);
    CHECK(n->items[0].items[1].i == 2);
    CHECK(n->items[1].items.empty());
    CHECK(h->tensors.empty());
}

TEST_CASE("gguf reader: writer round trip", "[gguf]") {
    test::TempDir dir;
    const auto path = dir / "rt.gguf";
    GgufMetadata md;
    md.emplace_back("general.architecture", GgufValue::make_string("llama"));
    md.emplace_back("x.count", GgufValue::make_u32(7));
    md.emplace_back("x.f", GgufValue::make_f32(0.5f));
    md.emplace_back("x.flag", GgufValue::make_bool(true));
    md.emplace_back("x.tokens", GgufValue::make_string_array({"<s>", "a b", ""}));
    md.emplace_back("x.scores", GgufValue::make_f32_array({-1.0f, 2.5f}));
    md.emplace_back("x.types", GgufValue::make_i32_array({1, 3, 6}));
    std::vector<GgufTensorSpec> specs = {
        {"t.f32", {3}, quant::GgmlType::F32},
        {"t.f16", {5, 2}, quant::GgmlType::F16},
        {"t.q8", {64, 3}, quant::GgmlType::Q8_0},
        {"t.q4k", {256, 2}, quant::GgmlType::Q4_K},
    };
    auto out = io::OutputFile::create(path, false, {});
    REQUIRE(out.ok());
    auto w = GgufWriter::begin(std::move(*out), md, specs);
    REQUIRE(w.ok());
    std::vector<std::vector<uint8_t>> data;
    for (size_t i = 0; i < specs.size(); ++i) {
        std::vector<uint8_t> d(static_cast<size_t>(w->layout().nbytes[i]));
        for (size_t k = 0; k < d.size(); ++k)
            d[k] = static_cast<uint8_t>(i * 31 + k);
        // In two pieces, the tensors out of order.
        data.push_back(d);
    }
    for (size_t i : {2, 0, 3, 1}) {
        const auto& d = data[i];
        REQUIRE(w->append(i, std::span<const uint8_t>(d.data(), d.size() / 2)).ok());
        REQUIRE(
            w->append(i, std::span<const uint8_t>(d.data() + d.size() / 2, d.size() - d.size() / 2))
                .ok());
    }
    CHECK_FALSE(w->append(0, std::vector<uint8_t>(1)).ok());  // more than the tensor holds
    REQUIRE(w->finish().ok());

    auto h = read_gguf_header(path);
    INFO((h.ok() ? "" : h.error().message));
    REQUIRE(h.ok());
    CHECK(h->alignment == 32);
    CHECK(h->data_start % 32 == 0);
    CHECK(h->metadata.size() == md.size());
    for (size_t i = 0; i < md.size(); ++i) {
        CHECK(h->metadata[i].first == md[i].first);
        CHECK(h->metadata[i].second.type == md[i].second.type);
    }
    CHECK(val(*h, "x.tokens").items[1].s == "a b");
    CHECK(val(*h, "x.scores").items[1].f == 2.5);
    CHECK(val(*h, "x.types").items[2].i == 6);
    CHECK(val(*h, "x.flag").u == 1);
    REQUIRE(h->tensors.size() == specs.size());
    std::ifstream f(path, std::ios::binary);
    std::vector<uint8_t> file((std::istreambuf_iterator<char>(f)),
                              std::istreambuf_iterator<char>());
    CHECK(file.size() == w->file_size());
    CHECK(file.size() % 32 == 0);
    for (size_t i = 0; i < specs.size(); ++i) {
        const auto& t = h->tensors[i];
        CHECK(t.name == specs[i].name);
        CHECK(t.dims == specs[i].dims);
        CHECK(t.type_id == static_cast<uint32_t>(specs[i].type));
        CHECK(t.offset % 32 == 0);
        CHECK(t.nbytes == data[i].size());
        CHECK(std::equal(data[i].begin(), data[i].end(),
                         file.begin() + static_cast<std::ptrdiff_t>(h->data_start + t.offset)));
    }
    // The same input gives the same bytes.
    auto lay = layout_gguf(md, specs);
    REQUIRE(lay.ok());
    CHECK(std::equal(lay->header.begin(), lay->header.end(), file.begin()));
}

TEST_CASE("gguf writer: refuses what a reader would refuse", "[gguf]") {
    using quant::GgmlType;
    auto refused = [](GgufMetadata md, std::vector<GgufTensorSpec> t) {
        auto r = layout_gguf(md, t);
        REQUIRE_FALSE(r.ok());
        return r.error().message;
    };
    CHECK_THAT(refused({}, {{"a", {33}, GgmlType::Q8_0}}),
               Catch::Contains("not whole Q8_0 blocks"));
    CHECK_THAT(refused({}, {{"a", {1}, GgmlType::F32}, {"a", {1}, GgmlType::F32}}),
               Catch::Contains("duplicate tensor name"));
    CHECK_THAT(refused({}, {{std::string(64, 'x'), {1}, GgmlType::F32}}),
               Catch::Contains("63 bytes"));
    CHECK_THAT(refused({}, {{"a", {1, 1, 1, 1, 1}, GgmlType::F32}}), Catch::Contains("1 to 4"));
    CHECK_THAT(refused({}, {{"a", {0}, GgmlType::F32}}), Catch::Contains("0"));
    CHECK_THAT(refused({{"k", GgufValue::make_u32(1)}, {"k", GgufValue::make_u32(2)}}, {}),
               Catch::Contains("duplicate key"));
    CHECK_THAT(refused({{"general.alignment", GgufValue::make_u32(64)}}, {}),
               Catch::Contains("general.alignment"));
    auto mixed =
        GgufValue::make_array(GgufType::u32, {GgufValue::make_u32(1), GgufValue::make_f32(1)});
    CHECK_THAT(refused({{"k", mixed}}, {}), Catch::Contains("an item of type f32"));
    auto nested = GgufValue::make_array(GgufType::array, {GgufValue::make_i32_array({1})});
    CHECK_THAT(refused({{"k", nested}}, {}), Catch::Contains("arrays of arrays"));
}

TEST_CASE("gguf reader: hostile headers are refused with a message", "[gguf]") {
    Raw good;
    good.header(1, 1).kv_u32("k", 1).tensor("t", {32, 2}, 8, 0).pad_to(32).data(68);
    REQUIRE(parse(good).ok());

    SECTION("every truncation of a valid file") {
        for (size_t n = 0; n < good.b.size(); ++n) {
            Raw cut;
            cut.b.assign(good.b.begin(), good.b.begin() + static_cast<std::ptrdiff_t>(n));
            auto h = parse_gguf_header(cut.b, cut.b.size(), "cut.gguf");
            INFO(n);
            CHECK_FALSE(h.ok());
        }
    }
    SECTION("magic and version") {
        Raw r = good;
        r.b[0] = 'X';
        CHECK_THAT(fail_text(r), Catch::Contains("not a GGUF file"));
        Raw v1;
        v1.header(0, 0, 1);
        CHECK_THAT(fail_text(v1), Catch::Contains("version 1"));
    }
    SECTION("counts larger than the file") {
        Raw r;
        r.header(uint64_t{1} << 19, 0);
        CHECK_THAT(fail_text(r), Catch::Contains("do not fit"));
        Raw k;
        k.header(0, ~uint64_t{0});
        CHECK_THAT(fail_text(k), Catch::Contains("key count"));
        Raw t;
        t.header(~uint64_t{0}, 0);
        CHECK_THAT(fail_text(t), Catch::Contains("tensor count"));
    }
    SECTION("huge string and array lengths") {
        Raw r;
        r.header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(~uint64_t{0});
        CHECK_THAT(fail_text(r), Catch::Contains("allowed"));
        Raw a;
        a.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(0).put<uint64_t>(1000000);
        CHECK_THAT(fail_text(a), Catch::Contains("does not fit"));
        Raw s;
        s.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(uint64_t{1} << 40);
        CHECK_THAT(fail_text(s), Catch::Contains("array items"));
    }
    SECTION("bad value types") {
        Raw r;
        r.header(0, 1).str("k").put<uint32_t>(13).put<uint32_t>(0);
        CHECK_THAT(fail_text(r), Catch::Contains("unknown value type 13"));
        Raw a;
        a.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(99).put<uint64_t>(0);
        CHECK_THAT(fail_text(a), Catch::Contains("unknown array element type 99"));
        Raw b;
        b.header(0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2);
        CHECK_THAT(fail_text(b), Catch::Contains("bool"));
    }
    SECTION("arrays nested too deep") {
        Raw r;
        r.header(0, 1).str("k").put<uint32_t>(9);
        for (int d = 0; d < 6; ++d)
            r.put<uint32_t>(9).put<uint64_t>(1);
        r.put<uint32_t>(0).put<uint64_t>(0);
        CHECK_THAT(fail_text(r), Catch::Contains("nested deeper"));
    }
    SECTION("keys") {
        Raw r;
        r.header(0, 2).kv_u32("k", 1).kv_u32("k", 2);
        CHECK_THAT(fail_text(r), Catch::Contains("duplicate key 'k'"));
        Raw e;
        e.header(0, 1).kv_u32("", 1);
        CHECK_THAT(fail_text(e), Catch::Contains("empty"));
        Raw al;
        al.header(0, 1).kv_u32("general.alignment", 48);
        CHECK_THAT(fail_text(al), Catch::Contains("power of two"));
        Raw at;
        at.header(0, 1).str("general.alignment").put<uint32_t>(10).put<uint64_t>(32);
        CHECK_THAT(fail_text(at), Catch::Contains("must be a u32"));
    }
    SECTION("tensor infos") {
        auto one = [](std::vector<uint64_t> dims, uint32_t type, uint64_t off, uint64_t data) {
            Raw r;
            r.header(1, 0).tensor("t", std::move(dims), type, off).pad_to(32).data(data);
            return r;
        };
        CHECK_THAT(fail_text(one({32}, 4, 0, 64)), Catch::Contains("ggml type 4"));
        CHECK_THAT(fail_text(one({32}, 99, 0, 64)), Catch::Contains("ggml type 99"));
        CHECK_THAT(fail_text(one({33}, 8, 0, 64)), Catch::Contains("not whole Q8_0 blocks"));
        CHECK_THAT(fail_text(one({0}, 0, 0, 64)), Catch::Contains("dimension 0 is 0"));
        CHECK_THAT(fail_text(one({1, 1, 1, 1, 1}, 0, 0, 64)), Catch::Contains("1 to 4"));
        CHECK_THAT(fail_text(one({uint64_t{1} << 32, uint64_t{1} << 32}, 0, 0, 64)),
                   Catch::Contains("overflows"));
        CHECK_THAT(fail_text(one({8}, 0, 16, 64)),
                   Catch::Contains("not a multiple of the alignment"));
        CHECK_THAT(fail_text(one({64}, 0, 0, 100)), Catch::Contains("past the end of the data"));
        CHECK_THAT(fail_text(one({8}, 0, ~uint64_t{0} - 31, 64)), Catch::Contains("overflows"));
        Raw name;
        name.header(1, 0).tensor(std::string(64, 'n'), {1}, 0, 0).pad_to(32).data(32);
        CHECK_THAT(fail_text(name), Catch::Contains("at most 63"));
        Raw dup;
        dup.header(2, 0).tensor("t", {1}, 0, 0).tensor("t", {1}, 0, 32).pad_to(32).data(64);
        CHECK_THAT(fail_text(dup), Catch::Contains("duplicate tensor name"));
        Raw overlap;
        overlap.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).pad_to(32).data(128);
        CHECK_THAT(fail_text(overlap), Catch::Contains("overlap"));
    }
}

TEST_CASE("gguf reader: the file opener reads a header longer than its first read", "[gguf]") {
    test::TempDir dir;
    const auto path = dir / "long.gguf";
    GgufMetadata md;
    md.emplace_back("long", GgufValue::make_string(std::string(3u << 20, 'x')));
    auto out = io::OutputFile::create(path, false, {});
    REQUIRE(out.ok());
    auto w = GgufWriter::begin(std::move(*out), md, {{"t", {4}, quant::GgmlType::F32}});
    REQUIRE(w.ok());
    REQUIRE(w->append(0, std::vector<uint8_t>(16, 1)).ok());
    REQUIRE(w->finish().ok());
    auto h = read_gguf_header(path);
    INFO((h.ok() ? "" : h.error().message));
    REQUIRE(h.ok());
    CHECK(val(*h, "long").s.size() == (3u << 20));
    // Cut inside the tensor data: the header parses, the tensor is past the end.
    std::filesystem::resize_file(path, h->data_start + 8);
    auto cut = read_gguf_header(path);
    REQUIRE_FALSE(cut.ok());
    CHECK_THAT(cut.error().message, Catch::Contains("truncated"));
}

TEST_CASE("gguf reader: the fuzz seeds named valid-* parse, bad-* are refused", "[gguf]") {
    const auto dir = test::source_dir() / "test/fuzz/corpus/gguf";
    size_t seen = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        const bool valid = name.starts_with("valid-"), bad = name.starts_with("bad-");
        if (!valid && !bad) continue;
        std::ifstream f(e.path(), std::ios::binary);
        std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)),
                               std::istreambuf_iterator<char>());
        auto h = parse_gguf_header(b, b.size(), name);
        INFO(name << ": " << (h.ok() ? "accepted" : h.error().message));
        CHECK(h.ok() == valid);
        ++seen;
    }
    CHECK(seen >= 20);
}
