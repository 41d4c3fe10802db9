// The dtype table against the safetensors format: every name the reference parser
// (huggingface/safetensors, Dtype in safetensors/src/tensor.rs) knows, with its size in bits,
// and byte sizes computed as the reference does (numel x bits / 8, whole bytes only).
#include "sutra/base/dtype.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

using sutra::DType;

TEST_CASE("dtype: every safetensors dtype, its name and its size in bits", "[base][dtype]") {
    // From the reference's Dtype enum and bitsize(), in its order.
    const std::vector<std::pair<std::string, uint32_t>> spec = {
        {"BOOL", 8},        {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
        {"I8", 8},          {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
        {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},    {"F16", 16},    {"BF16", 16},
        {"I32", 32},        {"U32", 32},    {"F32", 32},    {"C64", 64},    {"F64", 64},
        {"I64", 64},        {"U64", 64}};
    REQUIRE(sutra::dtype_names().size() == spec.size());
    for (size_t i = 0; i < spec.size(); ++i) {
        const auto& [name, bits] = spec[i];
        INFO(name);
        auto t = sutra::parse_dtype(name);
        REQUIRE(t.has_value());
        CHECK(static_cast<size_t>(*t) == i);  // the table is indexed by the enum
        CHECK(sutra::dtype_name(*t) == name);
        CHECK(sutra::dtype_names()[i] == name);
        CHECK(sutra::dtype_bits(*t) == bits);
        CHECK(sutra::dtype_size(*t) == (bits % 8 == 0 ? bits / 8 : 0));
    }
    CHECK_FALSE(sutra::parse_dtype("f32"));  // exact case, as serde's enum names
    CHECK_FALSE(sutra::parse_dtype("F8_E4M3FN"));
    CHECK_FALSE(sutra::parse_dtype(""));
}

TEST_CASE("dtype: byte sizes, sub-byte types included", "[base][dtype]") {
    using sutra::dtype_nbytes;
    CHECK(dtype_nbytes(DType::F32, uint64_t{3}) == 12);
    CHECK(dtype_nbytes(DType::C64, uint64_t{2}) == 16);
    CHECK(dtype_nbytes(DType::F8_E8M0, uint64_t{5}) == 5);
    // F4: two values per byte; an odd count does not fill whole bytes.
    CHECK(dtype_nbytes(DType::F4, uint64_t{0}) == 0);
    CHECK(dtype_nbytes(DType::F4, uint64_t{2}) == 1);
    CHECK(dtype_nbytes(DType::F4, uint64_t{64}) == 32);
    CHECK_FALSE(dtype_nbytes(DType::F4, uint64_t{3}));
    // F6: four values in three bytes.
    CHECK(dtype_nbytes(DType::F6_E2M3, uint64_t{4}) == 3);
    CHECK(dtype_nbytes(DType::F6_E3M2, uint64_t{32}) == 24);
    CHECK_FALSE(dtype_nbytes(DType::F6_E3M2, uint64_t{2}));
    CHECK_FALSE(dtype_nbytes(DType::F6_E3M2, uint64_t{6}));
    // Overflow.
    const uint64_t big = std::numeric_limits<uint64_t>::max();
    CHECK(dtype_nbytes(DType::U8, big) == big);  // whole-byte types: exact in bytes
    CHECK_FALSE(dtype_nbytes(DType::U16, big));
    CHECK_FALSE(dtype_nbytes(DType::F4, uint64_t{1} << 62));  // 2^64 bits
    // From a shape.
    const std::vector<uint64_t> shape = {3, 4, 2};
    CHECK(dtype_nbytes(DType::F4, shape) == 12);
    CHECK(dtype_nbytes(DType::BF16, std::vector<uint64_t>{}) == 2);  // a scalar
    CHECK_FALSE(dtype_nbytes(DType::U8, std::vector<uint64_t>{1ull << 32, 1ull << 32}));
}

TEST_CASE("dtype: other tools' names, for messages", "[base][dtype]") {
    using sutra::dtype_from_other_name;
    CHECK(dtype_from_other_name("float32") == DType::F32);
    CHECK(dtype_from_other_name("torch.bfloat16") == DType::BF16);
    CHECK(dtype_from_other_name("F8_E4M3FN") == DType::F8_E4M3);  // not the FNUZ variant
    CHECK(dtype_from_other_name("float8_e4m3fnuz") == DType::F8_E4M3FNUZ);
    CHECK(dtype_from_other_name("float8_e8m0fnu") == DType::F8_E8M0);
    CHECK(dtype_from_other_name("complex64") == DType::C64);
    CHECK_FALSE(dtype_from_other_name("F32"));  // a real name is not an alias
    CHECK_FALSE(dtype_from_other_name("Q4_0"));
}
