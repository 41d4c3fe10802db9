// Regression tests for inputs found by fuzzing the .qbin reader (test/fuzz/fuzz_qbin.cpp): each
// must be refused at open with an error value, never accepted with sizes the file cannot hold.
#include <catch2/catch.hpp>

#include "support/fixtures.hpp"
#include "support/paths.hpp"
#include "support/st_builder.hpp"
#include "sutra/base/checksum.hpp"
#include "sutra/format/qbin_format.hpp"
#include "sutra/format/qbin_reader.hpp"
#include "sutra/quant/layout.hpp"

using namespace sutra;

namespace {

// A .qbin holding the given records (stored data all zero), with a correct header checksum.
std::vector<uint8_t> qbin_bytes(const std::vector<format::QbinRecord>& records) {
    const std::string header = format::build_qbin_header(records, nlohmann::ordered_json::object());
    std::string file = io::header_length_prefix(header.size()) + header;
    size_t at = 0;
    auto sum = format::header_checksum(std::string_view(file).substr(0, 8),
                                       std::string_view(file).substr(8), &at);
    REQUIRE(sum.ok());
    file.replace(8 + at, 16, hex64(*sum));
    uint64_t data = 0;
    for (const auto& r : records)
        for (const auto& t : format::stored_tensors(r))
            data += t.nbytes;
    std::vector<uint8_t> out(file.begin(), file.end());
    out.resize(out.size() + data, 0);
    return out;
}

format::QbinRecord quantized(std::vector<uint64_t> shape, int bits, uint32_t group_size) {
    format::QbinRecord r;
    r.name = "w";
    r.dtype = DType::F16;
    r.shape = shape;
    r.quantized = true;
    r.bits = bits;
    r.group_size = group_size;
    r.layout = quant::make_layout(shape[0], shape[1], bits, group_size);
    r.stored = {"w.qweight", "w.scales", "w.qzeros"};
    r.xxh3 = {0, 0, 0};
    return r;
}

}  // namespace

TEST_CASE("qbin reader: a width whose packed row size overflows is refused", "[format][fuzz]") {
    // Caught by fuzz_qbin's invariant (test/fuzz/corpus/qbin/crash-q8-row-width-2p61): 2^61
    // columns of 8 bits wrap the packed row size to 0 bytes, so a 3-byte data section
    // described a 2^61-value weight and read_rows_f32 tried to allocate 2^61 bytes of codes.
    test::TempDir d;
    // Widths for which cols * bits is 2^64 + 2, 2^64 and 2^64: the packed row wraps to 1, 0, 0
    // bytes.
    const std::pair<int, uint64_t> cases[] = {
        {3, (~uint64_t{0}) / 3 + 1}, {4, uint64_t{1} << 62}, {8, uint64_t{1} << 61}};
    for (const auto& [bits, cols] : cases) {
        INFO("bits " << bits << ", cols " << cols);
        const auto bytes = qbin_bytes({quantized({1, cols}, bits, 0)});
        CHECK(bytes.size() < 4096);
        test::write_file(d / "w.qbin", bytes);
        SUTRA_REQUIRE_ERROR(format::QbinFile::open(d / "w.qbin"), Errc::bad_format,
                            "profile tensors[0]", "shape overflows");
    }
    // The same construction with an ordinary width opens.
    const auto bytes = qbin_bytes({quantized({1, 1000}, 4, 0)});
    test::write_file(d / "ok.qbin", bytes);
    auto q = format::QbinFile::open(d / "ok.qbin");
    SUTRA_REQUIRE_OK(q);
    CHECK(q->records().size() == 1);
}
