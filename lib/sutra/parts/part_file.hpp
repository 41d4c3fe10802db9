#pragma once
// The part file one `sutra quantize --part K/N` writes (OUT.qbin.part-K-of-N; PARTS.md):
//   8 bytes "SUTRAPT1", 8 bytes little-endian header length L, L bytes of JSON (padded with
//   spaces), then the stored tensors' bytes of the part's records, in record order.
// The header describes the whole .qbin to be (every record and the profile, so the merge needs
// nothing but the parts), which records this part holds with their checksums, the model it
// came from and a run id that every part of one quantization shares; "sutra.header_xxh3" is
// the checksum of the 16 prefix bytes and the header, its own digits read as '0'.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/format/qbin_format.hpp"
#include "sutra/io/file.hpp"
#include "sutra/parts/part_plan.hpp"

namespace sutra::parts {

inline constexpr std::string_view kPartMagic = "SUTRAPT1";
inline constexpr std::string_view kPartSchema = "sutra.part/1";

// What every part of one run shares, and which part this is.
struct PartRun {
    PartIndex index;
    std::string model;  // fingerprint of the checkpoint's headers (16 hex digits)
    std::vector<format::QbinRecord> records;  // the whole .qbin's (checksums only for ours)
    nlohmann::ordered_json extra;             // the .qbin profile's keys
    std::vector<bool> ours;                   // per record: in this part
};

// The run id: a checksum of the model fingerprint, the number of parts, the records (without
// checksums) and the profile.
std::string run_id(const PartRun& run);

// The whole header (prefix included) for `run` with the checksums of `run.records` of our
// records; its length does not depend on the checksums.
std::string part_header(const PartRun& run);

// A part file opened and checked: magic, header checksum and structure, and that the file
// holds exactly the data its header promises (the data checksums are checked by the merge as
// it copies).
struct PartFile {
    std::filesystem::path path;
    PartRun run;
    std::string run_id;
    uint64_t data_offset = 0;
    uint64_t data_bytes = 0;
    io::InputFile file;
};

struct PartLimits {
    uint64_t max_header_bytes = 256u << 20;
    size_t max_records = 1u << 20;
};

// Parses a part header (the prefix and the JSON) from the first bytes of a file of
// `file_size` bytes; `what` names it in messages.
Result<PartRun> parse_part_header(std::span<const uint8_t> head, uint64_t file_size,
                                  const std::string& what, uint64_t* data_offset,
                                  uint64_t* data_bytes, PartLimits limits = {});

Result<PartFile> open_part_file(const std::filesystem::path& path, PartLimits limits = {});

}  // namespace sutra::parts
