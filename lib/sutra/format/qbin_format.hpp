#pragma once
// The sutra .qbin profile of safetensors (spec: format/QBIN.md). This header holds the names
// and the header model shared by the writer and the reader.
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/dtype.hpp"
#include "sutra/base/error.hpp"
#include "sutra/io/safetensors_writer.hpp"
#include "sutra/quant/layout.hpp"

namespace sutra::format {

inline constexpr int kFormatVersion = 1;
inline constexpr std::string_view kFormatName = "sutra.qbin";
inline constexpr std::string_view kProfileKey = "sutra.profile";
inline constexpr std::string_view kHeaderChecksumKey = "sutra.header_xxh3";
// The exact bytes that precede the 16 hex digits of the header checksum in the header.
inline constexpr std::string_view kHeaderChecksumNeedle = "\"sutra.header_xxh3\":\"";

// The stored parts of a quantized weight, suffixed to its name: "<name>.qweight" ...
inline constexpr std::array<std::string_view, 3> kQuantParts = {"qweight", "scales", "qzeros"};

// One logical tensor of the original checkpoint, as the profile records it.
struct QbinRecord {
    std::string name;
    DType dtype = DType::F32;  // original dtype
    std::vector<uint64_t> shape;
    std::string role;
    bool quantized = false;
    int bits = 0;
    uint32_t group_size = 0;  // as configured, 0 = row
    quant::QuantLayout layout;
    // Stored tensors: {name} for raw, {qweight, scales, qzeros} for quantized; with checksums.
    std::vector<std::string> stored;
    std::vector<uint64_t> xxh3;
    // The stored values are an equivalent transform of the original tensor (AWQ or data-free
    // scales folded in), so they are not comparable with it weight by weight.
    bool transformed = false;
};

// The stored safetensors tensors of a record, in order (names, dtypes, shapes, sizes).
std::vector<io::OutTensor> stored_tensors(const QbinRecord& r);

// The whole header text (JSON, padded) for the records; checksums in records are written as
// given, the header checksum as 16 '0' digits. `extra` goes into the profile under its keys.
std::string build_qbin_header(const std::vector<QbinRecord>& records,
                              const nlohmann::ordered_json& extra);

// Header checksum: XXH3-64 over the 8-byte length prefix and the header bytes, with the 16
// digits after kHeaderChecksumNeedle read as '0'. Fails if the needle is not there exactly once.
Result<uint64_t> header_checksum(std::string_view prefix8, std::string_view header,
                                 size_t* digits_at);

}  // namespace sutra::format
