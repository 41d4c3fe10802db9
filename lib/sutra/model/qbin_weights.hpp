#pragma once
// Weights of a .qbin for the forward pass: a linear's weight (load_matrix) stays packed as
// stored; load() and load_rows() dequantize; raw tensors are read as stored.
#include "sutra/format/qbin_reader.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model {

// Holds a reference: the QbinFile must outlive this object.
class QbinWeights final : public WeightSource {
  public:
    explicit QbinWeights(const format::QbinFile& file) : file_(&file) {}
    bool has(std::string_view name) const override;
    Result<std::vector<uint64_t>> shape(std::string_view name) const override;
    Result<std::vector<float>> load(std::string_view name) const override;
    Result<std::vector<float>> load_rows(std::string_view name,
                                         std::span<const uint64_t> rows) const override;
    // Quantized tensors packed as stored, raw ones as f32.
    Result<Matrix> load_matrix(std::string_view name) const override;

  private:
    Result<const format::QbinRecord*> record(std::string_view name) const;
    const format::QbinFile* file_;
};

}  // namespace sutra::model
