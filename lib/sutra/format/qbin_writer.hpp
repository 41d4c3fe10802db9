#pragma once
// Writes a .qbin: the header (with every size known from the records) first, then each stored
// tensor's bytes appended in any interleaving of its parts, then finish() patches the
// checksums into the header (same length: checksums are fixed-width) and commits the file.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "sutra/base/checksum.hpp"
#include "sutra/base/error.hpp"
#include "sutra/format/qbin_format.hpp"
#include "sutra/io/output_file.hpp"

namespace sutra::format {

class QbinWriter {
  public:
    // Total file size the records produce, without writing anything.
    static uint64_t file_size_for(const std::vector<QbinRecord>& records,
                                  const nlohmann::ordered_json& extra);

    static Result<QbinWriter> begin(io::OutputFile out, std::vector<QbinRecord> records,
                                    nlohmann::ordered_json extra);

    // A part file instead (parts/part_file.hpp): only the records with only[r] set are
    // written, in record order, after the header header_for(records) gives, whose length
    // must not depend on the records' checksums (they are zero in the first call and filled
    // in at finish()). Appending to another record is an error.
    using HeaderFn = std::function<std::string(const std::vector<QbinRecord>&)>;
    static Result<QbinWriter> begin_part(io::OutputFile out, std::vector<QbinRecord> records,
                                         std::vector<bool> only, HeaderFn header_for);

    // Appends bytes to part `part` of record `record` (parts: 0 for raw; 0..2 for quantized).
    Status append(size_t record, size_t part, std::span<const uint8_t> bytes);
    // Verifies every part is complete, writes the final header, fsyncs and renames.
    Status finish();
    uint64_t file_size() const { return file_size_; }

  private:
    struct Part {
        uint64_t offset = 0;  // absolute file offset
        uint64_t size = 0;
        uint64_t written = 0;
        Hasher hash;
    };
    // Lays out the parts of the records in `only` (all when empty) from `offset` on.
    void lay_out(uint64_t offset);

    io::OutputFile out_;
    std::vector<QbinRecord> records_;
    nlohmann::ordered_json extra_;
    std::vector<bool> only_;  // empty: a whole .qbin
    HeaderFn part_header_;
    std::vector<std::vector<Part>> parts_;
    uint64_t header_len_ = 0;
    uint64_t file_size_ = 0;
};

}  // namespace sutra::format
