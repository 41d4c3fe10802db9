// Tests of the pure safetensors header parser: every malformed header must give its specific
// error (code + a message naming the tensor / offset), never a crash; unusual but valid headers
// must be accepted.
#include "sutra/io/safetensors_header.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>

#include "support/st_builder.hpp"

namespace {

using sutra::Errc;
using sutra::io::parse_header_length;
using sutra::io::parse_safetensors_bytes;
using sutra::io::parse_safetensors_header;
using sutra::test::Bytes;
using sutra::test::st_raw;
using sutra::test::StBuilder;

sutra::Result<sutra::io::SafetensorsHeader> parse(const Bytes& b) {
    return parse_safetensors_bytes(b, "t.safetensors");
}

// A file whose header is `json` and whose data section is `data_len` bytes.
sutra::Result<sutra::io::SafetensorsHeader> parse_json(const std::string& json,
                                                       size_t data_len = 0) {
    return parse(st_raw(json, Bytes(data_len, 0)));
}

std::string one_tensor(const std::string& dtype, const std::string& shape,
                       const std::string& offsets) {
    return "{\"w\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
           ",\"data_offsets\":" + offsets + "}}";
}

Bytes prefix(uint64_t n) {
    return st_raw("", {}, n);
}

}  // namespace

TEST_CASE("safetensors header: a valid file round trips", "[io][safetensors]") {
    StBuilder b;
    b.meta("format", "pt").meta("note", "caf\xc3\xa9 \"quoted\"");
    b.tensor("z.last", "F16", {2, 3}, Bytes(12, 1));
    b.tensor("a.first", "BF16", {4}, Bytes(8, 2));
    b.tensor("m.scalar", "I64", {}, Bytes(8, 3));
    b.tensor("k.u8", "U8", {1, 2, 3}, Bytes(6, 4));
    const Bytes file = b.bytes();
    auto r = parse(file);
    SUTRA_REQUIRE_OK(r);
    const auto& h = *r;
    CHECK(h.header_len == b.header().size());
    CHECK(h.data_start == 8 + b.header().size());
    CHECK(h.data_len == 34);
    REQUIRE(h.tensors.size() == 4);
    // Header key order, not alphabetical order.
    CHECK(h.tensors[0].name == "z.last");
    CHECK(h.tensors[1].name == "a.first");
    CHECK(h.tensors[2].name == "m.scalar");
    CHECK(h.tensors[3].name == "k.u8");
    CHECK(h.tensors[0].dtype == sutra::DType::F16);
    CHECK(h.tensors[1].dtype == sutra::DType::BF16);
    CHECK(h.tensors[2].dtype == sutra::DType::I64);
    CHECK(h.tensors[3].dtype == sutra::DType::U8);
    CHECK(h.tensors[0].shape == std::vector<uint64_t>{2, 3});
    CHECK(h.tensors[2].shape.empty());
    CHECK(h.tensors[3].shape == std::vector<uint64_t>{1, 2, 3});
    CHECK(h.tensors[0].numel == 6);
    CHECK(h.tensors[2].numel == 1);
    CHECK(h.tensors[0].begin == 0);
    CHECK(h.tensors[0].end == 12);
    CHECK(h.tensors[1].begin == 12);
    CHECK(h.tensors[1].end == 20);
    CHECK(h.tensors[2].begin == 20);
    CHECK(h.tensors[2].nbytes() == 8);
    CHECK(h.tensors[3].begin == 28);
    CHECK(h.tensors[3].end == 34);
    REQUIRE(h.metadata.size() == 2);
    CHECK(h.metadata[0] == std::make_pair(std::string("format"), std::string("pt")));
    CHECK(h.metadata[1].second == "caf\xc3\xa9 \"quoted\"");

    // The two-step API gives the same result.
    auto n = parse_header_length(std::span<const uint8_t>(file.data(), 8), file.size(), "t");
    SUTRA_REQUIRE_OK(n);
    CHECK(*n == b.header().size());
    auto h2 = parse_safetensors_header(std::span<const uint8_t>(file.data() + 8, *n), 34, "t");
    SUTRA_REQUIRE_OK(h2);
    CHECK(h2->tensors.size() == 4);
}

TEST_CASE("safetensors header: every dtype name is known, exact case", "[io][safetensors]") {
    // The reference's dtypes and the bytes 4 values of each take (numel x bits / 8).
    const std::pair<const char*, uint32_t> dtypes[] = {
        {"BOOL", 4},        {"F4", 2},      {"F6_E2M3", 3}, {"F6_E3M2", 3}, {"U8", 4},
        {"I8", 4},          {"F8_E5M2", 4}, {"F8_E4M3", 4}, {"F8_E8M0", 4}, {"F8_E4M3FNUZ", 4},
        {"F8_E5M2FNUZ", 4}, {"I16", 8},     {"U16", 8},     {"F16", 8},     {"BF16", 8},
        {"I32", 16},        {"U32", 16},    {"F32", 16},    {"C64", 32},    {"F64", 32},
        {"I64", 32},        {"U64", 32}};
    for (const auto& [name, bytes] : dtypes) {
        INFO(name);
        auto r = parse_json(one_tensor(name, "[2,2]", "[0," + std::to_string(bytes) + "]"), bytes);
        SUTRA_REQUIRE_OK(r);
        CHECK(sutra::dtype_name(r->tensors[0].dtype) == name);
        CHECK(r->tensors[0].numel == 4);
        CHECK(r->tensors[0].nbytes() == bytes);
        // One byte more or less is refused.
        SUTRA_REQUIRE_ERROR(
            parse_json(one_tensor(name, "[2,2]", "[0," + std::to_string(bytes + 1) + "]"),
                       bytes + 1),
            Errc::bad_format, "'w'", "hold " + std::to_string(bytes + 1) + " bytes");
    }
}

TEST_CASE("safetensors header: sub-byte dtypes fill whole bytes", "[io][safetensors]") {
    SECTION("F4: an even count, two per byte") {
        auto r = parse_json(one_tensor("F4", "[3,6]", "[0,9]"), 9);
        SUTRA_REQUIRE_OK(r);
        CHECK(r->tensors[0].nbytes() == 9);
    }
    SECTION("F4: an odd count is refused, as the reference refuses it (MisalignedSlice)") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F4", "[3]", "[0,2]"), 2), Errc::bad_format,
                            "'w'", "3 F4 values of 4 bits are not a whole number of bytes");
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F4", "[]", "[0,1]"), 1), Errc::bad_format, "'w'",
                            "1 F4 values");
    }
    SECTION("F6: four values in three bytes") {
        auto r = parse_json(one_tensor("F6_E3M2", "[8]", "[0,6]"), 6);
        SUTRA_REQUIRE_OK(r);
        CHECK(r->tensors[0].nbytes() == 6);
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F6_E2M3", "[2]", "[0,2]"), 2), Errc::bad_format,
                            "'w'", "not a whole number of bytes");
    }
    SECTION("F4 beside other tensors keeps the tiling exact") {
        auto r = parse_json(
            "{\"a\":{\"dtype\":\"F4\",\"shape\":[2,5],\"data_offsets\":[0,5]},"
            "\"b\":{\"dtype\":\"F8_E8M0\",\"shape\":[3],\"data_offsets\":[5,8]}}",
            8);
        SUTRA_REQUIRE_OK(r);
        CHECK(r->tensors.size() == 2);
    }
    SECTION("bits overflow 64 bits") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F4", "[4611686018427387904]", "[0,4]"), 4),
                            Errc::bad_format, "'w'", "overflow");
    }
}

TEST_CASE("safetensors header: header length prefix", "[io][safetensors]") {
    SECTION("length 0") {
        SUTRA_REQUIRE_ERROR(parse(prefix(0)), Errc::bad_format, "header length is 0");
    }
    SECTION("length 1 cannot hold an object") {
        SUTRA_REQUIRE_ERROR(parse(st_raw("{")), Errc::bad_format, "header length is 1");
    }
    SECTION("7-byte file") {
        SUTRA_REQUIRE_ERROR(parse(Bytes(7, 0)), Errc::bad_format, "t.safetensors", "7 bytes");
        SUTRA_REQUIRE_ERROR(parse(Bytes{}), Errc::bad_format, "0 bytes");
    }
    SECTION("8-byte file holding only a length") {
        SUTRA_REQUIRE_ERROR(parse(prefix(2)), Errc::bad_format, "header length 2", "past the end");
    }
    SECTION("length past the end of the file") {
        SUTRA_REQUIRE_ERROR(parse(st_raw("{}", {}, 3)), Errc::bad_format, "header length 3",
                            "past the end", "10 bytes");
    }
    SECTION("length just above the 100,000,000 cap") {
        SUTRA_REQUIRE_ERROR(parse(st_raw("{}", {}, 100'000'001)), Errc::too_large, "100000001",
                            "100000000");
    }
    SECTION("length at the cap, file too short") {
        SUTRA_REQUIRE_ERROR(parse(st_raw("{}", {}, 100'000'000)), Errc::bad_format, "past the end");
    }
    SECTION("u64 max") {
        SUTRA_REQUIRE_ERROR(parse(st_raw("{}", {}, std::numeric_limits<uint64_t>::max())),
                            Errc::too_large, "18446744073709551615");
    }
    SECTION("length claiming the whole u64 range, with a huge declared file size") {
        // parse_header_length alone: a forged file size must not overflow 8 + N.
        const Bytes p = prefix(std::numeric_limits<uint64_t>::max() - 3);
        SUTRA_REQUIRE_ERROR(
            parse_header_length(p, std::numeric_limits<uint64_t>::max(), "t.safetensors"),
            Errc::too_large, "exceeds the limit");
        const Bytes q = prefix(50);
        SUTRA_REQUIRE_ERROR(parse_header_length(q, 57, "t.safetensors"), Errc::bad_format,
                            "past the end");
        auto ok = parse_header_length(q, 58, "t.safetensors");
        SUTRA_REQUIRE_OK(ok);
        CHECK(*ok == 50);
    }
    SECTION("the length is little-endian") {
        Bytes b = st_raw("{}");
        b[0] = 0;
        b[7] = 2;  // big-endian 2 = 2^57 little-endian
        SUTRA_REQUIRE_ERROR(parse(b), Errc::too_large, "144115188075855872");
    }
}

TEST_CASE("safetensors header: the JSON must be an object of valid UTF-8", "[io][safetensors]") {
    SECTION("array root") {
        SUTRA_REQUIRE_ERROR(parse_json("[1, 2]"), Errc::bad_format, "begin with '{'");
    }
    SECTION("string root") {
        SUTRA_REQUIRE_ERROR(parse_json("\"{}\""), Errc::bad_format, "begin with '{'");
    }
    SECTION("number root") {
        SUTRA_REQUIRE_ERROR(parse_json("12"), Errc::bad_format, "begin with '{'");
    }
    SECTION("only spaces") {
        SUTRA_REQUIRE_ERROR(parse_json("      "), Errc::bad_format, "begin with '{'");
    }
    SECTION("truncated object") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"w\":{\"dtype\":\"F32\""), Errc::bad_format,
                            "not valid JSON");
    }
    SECTION("two objects") {
        SUTRA_REQUIRE_ERROR(parse_json("{}{}"), Errc::bad_format, "not valid JSON");
    }
    SECTION("trailing garbage after the object") {
        SUTRA_REQUIRE_ERROR(parse_json("{} x"), Errc::bad_format, "not valid JSON");
    }
    SECTION("invalid UTF-8 byte in a tensor name") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[1]", "[0,4]").replace(2, 1, "\xff"), 4),
                            Errc::bad_format, "not valid JSON");
    }
    SECTION("overlong UTF-8 encoding in a metadata value") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":{\"k\":\"\xc0\xaf\"}}"), Errc::bad_format,
                            "not valid JSON");
    }
    SECTION("UTF-8-encoded surrogate") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":{\"k\":\"\xed\xa0\x80\"}}"),
                            Errc::bad_format, "not valid JSON");
    }
    SECTION("truncated multi-byte sequence") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":{\"k\":\"\xe2\x82\"}}"), Errc::bad_format,
                            "not valid JSON");
    }
    SECTION("lone escaped surrogate") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":{\"k\":\"\\ud800\"}}"), Errc::bad_format,
                            "not valid JSON");
    }
    SECTION("raw control character in a string") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":{\"k\":\"a\nb\"}}"), Errc::bad_format,
                            "not valid JSON");
    }
    SECTION("byte-order mark") {
        SUTRA_REQUIRE_ERROR(parse_json("\xef\xbb\xbf{}"), Errc::bad_format, "byte-order mark");
    }
    SECTION("NUL padding after the object") {
        // Writers pad with spaces; NUL bytes are not JSON whitespace. (nlohmann's lexer treats
        // '\0' as the end of input, so the parser must refuse NUL bytes itself.)
        SUTRA_REQUIRE_ERROR(parse_json(std::string("{}\0\0\0\0\0\0", 8)), Errc::bad_format);
    }
    SECTION("NUL byte hiding trailing content") {
        SUTRA_REQUIRE_ERROR(parse_json(std::string("{}\0{\"x\":1}", 10)), Errc::bad_format);
    }
    SECTION("NUL byte before the object") {
        SUTRA_REQUIRE_ERROR(parse_json(std::string("\0{}", 3)), Errc::bad_format);
    }
}

TEST_CASE("safetensors header: deep nesting is refused without recursion", "[io][safetensors]") {
    const std::string deep_arrays(100000, '[');
    SECTION("100000 '[' as the root") {
        SUTRA_REQUIRE_ERROR(parse_json(deep_arrays), Errc::bad_format);
    }
    SECTION("100000 '[' as a tensor value") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"w\":" + deep_arrays), Errc::bad_format, "'w'");
    }
    SECTION("100000 '[' inside a shape") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"w\":{\"dtype\":\"F32\",\"shape\":" + deep_arrays),
                            Errc::bad_format, "'w'");
    }
    SECTION("100000 '[' inside __metadata__") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":{\"k\":" + deep_arrays), Errc::bad_format,
                            "__metadata__");
    }
    SECTION("100000 nested objects, closed") {
        std::string s;
        for (int i = 0; i < 100000; ++i)
            s += "{\"a\":";
        s += "1";
        s += std::string(100000, '}');
        SUTRA_REQUIRE_ERROR(parse_json(s), Errc::bad_format);
    }
    SECTION("a nested array in a shape") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[[1]]", "[0,4]"), 4), Errc::bad_format,
                            "'w'", "shape");
    }
}

TEST_CASE("safetensors header: duplicate keys", "[io][safetensors]") {
    const std::string t = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
    SECTION("duplicate tensor name") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"w\":" + t + ",\"w\":" + t + "}", 4), Errc::bad_format,
                            "duplicate", "\"w\"");
    }
    SECTION("duplicate field in a tensor") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"dtype\":\"F16\","
                                       "\"data_offsets\":[0,4]}}",
                                       4),
                            Errc::bad_format, "'w'", "duplicate key \"dtype\"");
    }
    SECTION("duplicate data_offsets") {
        SUTRA_REQUIRE_ERROR(
            parse_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],"
                       "\"data_offsets\":[0,4]}}",
                       4),
            Errc::bad_format, "'w'", "duplicate key \"data_offsets\"");
    }
    SECTION("duplicate __metadata__") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":{},\"__metadata__\":{}}"),
                            Errc::bad_format, "duplicate", "__metadata__");
    }
    SECTION("duplicate key inside __metadata__") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}"),
                            Errc::bad_format, "__metadata__", "duplicate key \"k\"");
    }
    SECTION("the same field name in two tensors is fine") {
        auto r = parse_json(
            "{\"a\":" + t + ",\"b\":" + "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
            8);
        SUTRA_REQUIRE_OK(r);
        CHECK(r->tensors.size() == 2);
    }
}

TEST_CASE("safetensors header: numbers in shape and data_offsets", "[io][safetensors]") {
    SECTION("negative shape entry") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[-1]", "[0,4]"), 4), Errc::bad_format,
                            "'w'", "shape", "-1");
    }
    SECTION("-0 is the whole number 0 (serde_json reads it so)") {
        auto r = parse_json(one_tensor("F32", "[-0,3]", "[-0,0]"));
        SUTRA_REQUIRE_OK(r);
        CHECK(r->tensors[0].shape == std::vector<uint64_t>{0, 3});
        CHECK(r->tensors[0].numel == 0);
    }
    SECTION("fractional shape entry") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[1.5]", "[0,4]"), 4), Errc::bad_format,
                            "'w'", "shape", "1.5");
    }
    SECTION("shape entry written with an exponent") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[1e0]", "[0,4]"), 4), Errc::bad_format,
                            "'w'", "shape");
    }
    SECTION("shape entry of 2^64") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[18446744073709551616]", "[0,4]"), 4),
                            Errc::bad_format, "'w'", "shape", "18446744073709551616");
    }
    SECTION("shape entry far above 2^64") {
        SUTRA_REQUIRE_ERROR(
            parse_json(one_tensor("F32", "[" + std::string(400, '9') + "]", "[0,4]"), 4),
            Errc::bad_format, "999");
    }
    SECTION("negative begin offset") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[1]", "[-4,0]"), 4), Errc::bad_format,
                            "'w'", "data_offsets", "-4");
    }
    SECTION("fractional end offset") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[1]", "[0,4.0]"), 4), Errc::bad_format,
                            "'w'", "data_offsets");
    }
    SECTION("end offset of 2^64") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[1]", "[0,18446744073709551616]"), 4),
                            Errc::bad_format, "'w'", "data_offsets");
    }
    SECTION("string shape entry") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[\"1\"]", "[0,4]"), 4), Errc::bad_format,
                            "'w'", "shape");
    }
    SECTION("null and boolean entries") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[null]", "[0,4]"), 4), Errc::bad_format,
                            "'w'", "shape");
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[1]", "[0,true]"), 4), Errc::bad_format,
                            "'w'", "data_offsets");
    }
    SECTION("shape is not an array") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "4", "[0,4]"), 4), Errc::bad_format, "'w'",
                            "shape");
    }
    SECTION("data_offsets with one or three entries") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[1]", "[4]"), 4), Errc::bad_format, "'w'",
                            "exactly 2");
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[1]", "[0,4,4]"), 4), Errc::bad_format,
                            "'w'", "exactly 2");
    }
    SECTION("the largest u64 is read exactly") {
        // 2^64-1 elements of U8 can't fit in the data, but the number itself must parse.
        SUTRA_REQUIRE_ERROR(
            parse_json(one_tensor("U8", "[18446744073709551615]", "[0,18446744073709551615]"), 4),
            Errc::bad_format, "'w'", "18446744073709551615", "past the data length 4");
    }
}

TEST_CASE("safetensors header: dtypes", "[io][safetensors]") {
    SECTION("unknown dtype") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F128", "[1]", "[0,16]"), 16), Errc::bad_format,
                            "'w'", "unknown dtype", "F128");
    }
    SECTION("lower-case dtype: refused, as the reference refuses it, with the right spelling") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("f32", "[1]", "[0,4]"), 4), Errc::bad_format,
                            "'w'", "unknown dtype", "f32", "did you mean \"F32\"?");
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("f8_e4m3fnuz", "[1]", "[0,1]"), 1),
                            Errc::bad_format, "did you mean \"F8_E4M3FNUZ\"?");
    }
    SECTION("empty dtype") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("", "[1]", "[0,4]"), 4), Errc::bad_format, "'w'",
                            "unknown dtype");
    }
    SECTION("dtype is not a string") {
        SUTRA_REQUIRE_ERROR(
            parse_json("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
            Errc::bad_format, "'w'", "dtype");
    }
}

TEST_CASE("safetensors header: shape limits", "[io][safetensors]") {
    SECTION("shape product overflows 64 bits") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("U8", "[4294967296,4294967296]", "[0,4]"), 4),
                            Errc::bad_format, "'w'", "overflow");
    }
    SECTION("byte size overflows 64 bits") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[4611686018427387904]", "[0,4]"), 4),
                            Errc::bad_format, "'w'", "overflow");
    }
    SECTION("any rank: 9, 100 and 5000 dimensions (the reference has no limit)") {
        for (int rank : {9, 100, 5000}) {
            INFO("rank " << rank);
            std::string shape = "[2";
            for (int i = 1; i < rank; ++i)
                shape += ",1";
            auto r = parse_json(one_tensor("F32", shape + "]", "[0,8]"), 8);
            SUTRA_REQUIRE_OK(r);
            CHECK(r->tensors[0].shape.size() == static_cast<size_t>(rank));
            CHECK(r->tensors[0].numel == 2);
        }
    }
    SECTION("rank 8 is accepted") {
        auto r = parse_json(one_tensor("F32", "[1,1,1,1,1,1,1,2]", "[0,8]"), 8);
        SUTRA_REQUIRE_OK(r);
        CHECK(r->tensors[0].shape.size() == 8);
        CHECK(r->tensors[0].numel == 2);
    }
    SECTION("a zero dimension makes the product 0 even with a huge other dimension") {
        auto r = parse_json(one_tensor("F64", "[0,18446744073709551615]", "[0,0]"));
        SUTRA_REQUIRE_OK(r);
        CHECK(r->tensors[0].numel == 0);
    }
}

TEST_CASE("safetensors header: data offsets must tile the data exactly", "[io][safetensors]") {
    auto two = [](const std::string& a_off, const std::string& b_off, size_t data_len) {
        return parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" + a_off +
                              "},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" + b_off +
                              "}}",
                          data_len);
    };
    SECTION("contiguous, in order") {
        SUTRA_REQUIRE_OK(two("[0,8]", "[8,16]", 16));
    }
    SECTION("contiguous but listed in a different order than the data") {
        auto r = two("[8,16]", "[0,8]", 16);
        SUTRA_REQUIRE_OK(r);
        REQUIRE(r->tensors.size() == 2);
        CHECK(r->tensors[0].name == "a");  // header order is kept
        CHECK(r->tensors[0].begin == 8);
        CHECK(r->tensors[1].name == "b");
        CHECK(r->tensors[1].begin == 0);
    }
    SECTION("gap between tensors") {
        SUTRA_REQUIRE_ERROR(two("[0,8]", "[12,20]", 20), Errc::bad_format, "gap of 4 bytes", "'b'",
                            "8");
    }
    SECTION("gap before the first tensor") {
        SUTRA_REQUIRE_ERROR(two("[4,12]", "[12,20]", 20), Errc::bad_format, "gap of 4 bytes",
                            "'a'");
    }
    SECTION("overlap") {
        SUTRA_REQUIRE_ERROR(two("[0,8]", "[4,12]", 12), Errc::bad_format, "'b'", "overlaps",
                            "begins at 4", "ends at 8");
    }
    SECTION("two tensors at the same offsets") {
        SUTRA_REQUIRE_ERROR(two("[0,8]", "[0,8]", 16), Errc::bad_format, "overlaps");
    }
    SECTION("past the data") {
        SUTRA_REQUIRE_ERROR(two("[0,8]", "[8,16]", 12), Errc::bad_format, "'b'", "end 16",
                            "past the data length 12");
    }
    SECTION("trailing bytes after the last tensor") {
        SUTRA_REQUIRE_ERROR(two("[0,8]", "[8,16]", 19), Errc::bad_format, "3 trailing bytes", "16",
                            "19");
    }
    SECTION("end before begin") {
        SUTRA_REQUIRE_ERROR(two("[0,8]", "[16,8]", 16), Errc::bad_format, "'b'", "end 8",
                            "before begin 16");
    }
    SECTION("size does not match dtype x shape") {
        SUTRA_REQUIRE_ERROR(two("[0,8]", "[8,20]", 20), Errc::bad_format, "'b'", "12 bytes", "F32",
                            "need 8");
    }
    SECTION("size mismatch for a 16-bit dtype") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("BF16", "[3,2]", "[0,24]"), 24), Errc::bad_format,
                            "'w'", "24 bytes", "BF16", "need 12");
    }
    SECTION("an empty tensor inside another one's bytes") {
        SUTRA_REQUIRE_ERROR(
            parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
                       8),
            Errc::bad_format, "'z'", "overlaps");
    }
    SECTION("an empty tensor past the data") {
        SUTRA_REQUIRE_ERROR(parse_json(one_tensor("F32", "[0]", "[100,100]"), 0), Errc::bad_format,
                            "'w'", "past the data length 0");
    }
    SECTION("no tensors but data bytes") {
        SUTRA_REQUIRE_ERROR(parse_json("{}", 5), Errc::bad_format, "5 trailing bytes");
    }
}

TEST_CASE("safetensors header: fields", "[io][safetensors]") {
    SECTION("missing dtype") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                            Errc::bad_format, "'w'", "missing field");
    }
    SECTION("missing shape") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4),
                            Errc::bad_format, "'w'", "missing field");
    }
    SECTION("missing data_offsets") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4),
                            Errc::bad_format, "'w'", "missing field");
    }
    SECTION("empty tensor object") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"w\":{}}"), Errc::bad_format, "'w'", "missing field");
    }
    SECTION("unknown fields are ignored, whatever their value, as the reference ignores them") {
        for (const std::string v :
             {"0", "-1", "2.5", "true", "null", "\"x\"", "[]", "[1,[2,{\"a\":[]}]]",
              "{\"nested\":{\"deeper\":[1,2,{\"dtype\":\"F16\"}]},\"shape\":\"no\"}"}) {
            INFO("value " << v);
            auto r = parse_json("{\"w\":{\"dtype\":\"F32\",\"extra\":" + v +
                                    ",\"shape\":[1],\"data_offsets\":[0,4],\"offset\":" + v + "}}",
                                4);
            SUTRA_REQUIRE_OK(r);
            REQUIRE(r->tensors.size() == 1);
            CHECK(r->tensors[0].dtype == sutra::DType::F32);  // not the nested "F16"
            CHECK(r->tensors[0].shape == std::vector<uint64_t>{1});
        }
    }
    SECTION("an unknown field may repeat (the reference skips it without looking)") {
        SUTRA_REQUIRE_OK(parse_json(
            "{\"w\":{\"x\":1,\"dtype\":\"F32\",\"x\":[2],\"shape\":[1],\"data_offsets\":[0,4]}}",
            4));
    }
    SECTION("an unknown field nested up to the reference's limit, and one level more") {
        auto nested = [](int levels) {  // root + tensor + `levels` arrays
            return "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":" +
                   std::string(static_cast<size_t>(levels), '[') +
                   std::string(static_cast<size_t>(levels), ']') + "}}";
        };
        SUTRA_REQUIRE_OK(parse_json(nested(125), 4));  // 127 levels in all
        SUTRA_REQUIRE_ERROR(parse_json(nested(126), 4), Errc::bad_format, "'w'", "\"x\"",
                            "deeper than 127 levels");
        SUTRA_REQUIRE_ERROR(parse_json(nested(100000), 4), Errc::bad_format, "deeper than");
    }
    SECTION("a misspelled required field: the missing one and the unknown one are named") {
        SUTRA_REQUIRE_ERROR(
            parse_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"offsets\":[0,4]}}", 4),
            Errc::bad_format, "'w'", "missing field data_offsets", "unknown field \"offsets\"");
        SUTRA_REQUIRE_ERROR(
            parse_json("{\"w\":{\"dtype\":\"F32\",\"shap\":[1],\"data_offsets\":[0,4]}}", 4),
            Errc::bad_format, "missing field shape", "did you mean \"shape\"?");
    }
    SECTION("__metadata__ null is no metadata, as in the reference") {
        auto r = parse_json(
            "{\"__metadata__\":null,\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
            "\"data_offsets\":[0,4]}}",
            4);
        SUTRA_REQUIRE_OK(r);
        CHECK(r->metadata.empty());
        CHECK(r->tensors.size() == 1);
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":null,\"__metadata__\":{}}"),
                            Errc::bad_format, "duplicate key \"__metadata__\"");
    }
    SECTION("tensor value is not an object") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"w\":[1]}"), Errc::bad_format, "'w'");
        SUTRA_REQUIRE_ERROR(parse_json("{\"w\":\"F32\"}"), Errc::bad_format, "'w'");
        SUTRA_REQUIRE_ERROR(parse_json("{\"w\":null}"), Errc::bad_format, "'w'");
    }
    SECTION("__metadata__ with a non-string value") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":{\"epoch\":3}}"), Errc::bad_format,
                            "__metadata__", "epoch", "must be a string");
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":{\"a\":\"b\",\"nested\":{}}}"),
                            Errc::bad_format, "__metadata__");
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":{\"list\":[\"x\"]}}"), Errc::bad_format,
                            "__metadata__");
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":{\"n\":null}}"), Errc::bad_format,
                            "__metadata__");
    }
    SECTION("__metadata__ that is not an object") {
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":\"pt\"}"), Errc::bad_format,
                            "__metadata__");
        SUTRA_REQUIRE_ERROR(parse_json("{\"__metadata__\":[]}"), Errc::bad_format, "__metadata__");
    }
}

TEST_CASE("safetensors header: valid but unusual headers are accepted", "[io][safetensors]") {
    SECTION("no tensors") {
        auto r = parse_json("{}");
        SUTRA_REQUIRE_OK(r);
        CHECK(r->tensors.empty());
        CHECK(r->metadata.empty());
        CHECK(r->data_len == 0);
    }
    SECTION("only metadata") {
        auto r = parse_json("{\"__metadata__\":{}}");
        SUTRA_REQUIRE_OK(r);
        CHECK(r->tensors.empty());
    }
    SECTION("zero-size tensors between others") {
        StBuilder b;
        b.f32("a", {1}, {1.0f}).tensor("empty", "F16", {0, 5}, {}).f32("b", {1}, {2.0f});
        b.tensor("last_empty", "I8", {3, 0}, {});
        auto r = parse(b.bytes());
        SUTRA_REQUIRE_OK(r);
        REQUIRE(r->tensors.size() == 4);
        CHECK(r->tensors[1].name == "empty");
        CHECK(r->tensors[1].numel == 0);
        CHECK(r->tensors[1].begin == 4);
        CHECK(r->tensors[1].end == 4);
        CHECK(r->tensors[3].begin == 8);
        CHECK(r->tensors[3].nbytes() == 0);
    }
    SECTION("only a zero-size tensor") {
        auto r = parse_json(one_tensor("F32", "[0]", "[0,0]"));
        SUTRA_REQUIRE_OK(r);
        CHECK(r->tensors[0].numel == 0);
    }
    SECTION("scalar shape []") {
        auto r = parse_json(one_tensor("F64", "[]", "[0,8]"), 8);
        SUTRA_REQUIRE_OK(r);
        CHECK(r->tensors[0].shape.empty());
        CHECK(r->tensors[0].numel == 1);
    }
    SECTION("whitespace-padded header") {
        StBuilder b;
        b.f32("w", {2}, {1.0f, 2.0f});
        const std::string padded = "  \n\t" + b.header() + "   \r\n      ";
        auto r = parse(sutra::test::st_raw(padded, b.data()));
        SUTRA_REQUIRE_OK(r);
        CHECK(r->header_len == padded.size());
        CHECK(r->data_start == 8 + padded.size());
        CHECK(r->tensors[0].name == "w");
    }
    SECTION("whitespace inside the JSON and fields in any order") {
        auto r = parse_json(
            "{ \"w\" : { \"data_offsets\" : [ 0 , 4 ] , \"shape\" : [ 1 ] , \"dtype\" : \"F32\" "
            "} }",
            4);
        SUTRA_REQUIRE_OK(r);
        CHECK(r->tensors[0].end == 4);
    }
    SECTION("metadata after the tensors, and unusual tensor names") {
        auto r = parse_json(
            "{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
            "\"\\u00e9\\\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
            "\"__metadata__\":{\"k\":\"\"}}",
            2);
        SUTRA_REQUIRE_OK(r);
        REQUIRE(r->tensors.size() == 2);
        CHECK(r->tensors[0].name.empty());
        CHECK(r->tensors[1].name == "\xc3\xa9\"x");
        REQUIRE(r->metadata.size() == 1);
        CHECK(r->metadata[0].second.empty());
    }
}
