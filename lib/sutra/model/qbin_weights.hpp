#pragma once
// Weights of a .qbin for the forward pass: a linear's weight (load_matrix) stays packed as
// stored, in place in a read-only mapping of the file (or, with mapping off, copied to the
// heap); load() and load_rows() dequantize; raw tensors are read as stored.
#include "sutra/format/qbin_reader.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model {

// Holds a reference: the QbinFile must outlive this object.
class QbinWeights final : public WeightSource {
  public:
    // map: packed matrices stay in a mapping of the file (QbinFile::map_packed) instead of
    // being read into memory (read_packed). The products are the same bits either way.
    explicit QbinWeights(const format::QbinFile& file, bool map = qbin_mapping())
        : file_(&file), map_(map) {}
    bool has(std::string_view name) const override;
    Result<std::vector<uint64_t>> shape(std::string_view name) const override;
    Result<std::vector<float>> load(std::string_view name) const override;
    Result<std::vector<float>> load_rows(std::string_view name,
                                         std::span<const uint64_t> rows) const override;
    // Quantized tensors packed as stored, raw ones as f32.
    Result<Matrix> load_matrix(std::string_view name) const override;

    // The process-wide default for `map` (on; the CLI's --no-mmap turns it off).
    static bool qbin_mapping();
    static void set_qbin_mapping(bool on);

  private:
    Result<const format::QbinRecord*> record(std::string_view name) const;
    const format::QbinFile* file_;
    bool map_ = true;
};

}  // namespace sutra::model
