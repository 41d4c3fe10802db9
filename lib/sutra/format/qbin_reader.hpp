#pragma once
// Opens a .qbin: checks the safetensors structure, the header checksum and the profile, and
// that the stored tensors are exactly the ones the records describe (names, dtypes, shapes).
// Tensor data is read on demand; checksums of the data are verified by verify_data().
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/format/qbin_format.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/quant/packed_matrix.hpp"

namespace sutra::format {

struct DataDamage {
    std::string record;  // logical tensor
    std::string stored;  // stored tensor whose checksum failed
    std::string expected, actual;
};

class QbinFile {
  public:
    static Result<QbinFile> open(const std::filesystem::path& path);

    const std::vector<QbinRecord>& records() const { return records_; }
    const nlohmann::json& profile() const { return profile_; }
    const io::Checkpoint& container() const { return ck_; }
    uint64_t file_size() const { return ck_.total_file_bytes(); }
    uint64_t header_checksum() const { return header_xxh3_; }

    // Reads every stored tensor and compares its checksum; returns the damaged ones.
    Result<std::vector<DataDamage>> verify_data() const;

    // Rows [row0, row0 + nrows) of a record as f32 (quantized: dequantized; raw: converted,
    // F32/F16/BF16 only). A 1-D or scalar raw tensor is one row. out holds nrows * cols values.
    Status read_rows_f32(const QbinRecord& r, uint64_t row0, uint64_t nrows, float* out) const;
    // A quantized record's codes, scales and zero points as stored (invalid_argument for a raw
    // record).
    Result<quant::PackedMatrix> read_packed(const QbinRecord& r) const;
    // The same, in place in a read-only mapping of the file (io::Checkpoint::map_raw): no copy;
    // the matrix keeps the mapping alive after this QbinFile is gone.
    Result<quant::PackedMatrix> map_packed(const QbinRecord& r) const;
    // Row count and width used by read_rows_f32.
    static uint64_t rows_of(const QbinRecord& r);
    static uint64_t cols_of(const QbinRecord& r);
    // The whole record as f32.
    Result<std::vector<float>> read_all_f32(const QbinRecord& r) const;
    const QbinRecord* find(std::string_view name) const;
    // The stored tensor behind part k of a record.
    const io::TensorRef& stored_ref(const QbinRecord& r, size_t k) const;

  private:
    Result<quant::PackedMatrix> read_packed_rows(size_t idx, uint64_t row0, uint64_t nrows) const;
    io::Checkpoint ck_;
    nlohmann::json profile_;
    std::vector<QbinRecord> records_;
    std::vector<std::vector<size_t>> refs_;  // per record: index into ck_.tensors()
    uint64_t header_xxh3_ = 0;
};

}  // namespace sutra::format
