#pragma once
// Where the forward pass gets its weights from. The model sees weights only through this
// interface, so the same forward pass runs on a safetensors checkpoint (CheckpointWeights)
// or on a quantized file dequantized on the fly. Weights are returned as f32, row-major in
// their checkpoint shape (a linear layer is [out_features, in_features]).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/matrix.hpp"

namespace sutra::model {

// A tensor shape from its dimensions, outermost first: dims(rows, cols).
template <class... D>
std::vector<uint64_t> dims(D... d) {
    return {static_cast<uint64_t>(d)...};
}

class WeightSource {
  public:
    virtual ~WeightSource() = default;

    // Whether a tensor of that name exists.
    virtual bool has(std::string_view name) const = 0;
    // Its shape (outermost first); not_found if absent.
    virtual Result<std::vector<uint64_t>> shape(std::string_view name) const = 0;
    // The whole tensor as f32; not_found if absent, bad_format/io on read errors.
    virtual Result<std::vector<float>> load(std::string_view name) const = 0;
    // The given rows of a tensor viewed as [shape[0], numel / shape[0]], as f32, concatenated
    // in the order asked (rows may repeat); used to gather embedding rows without loading the
    // whole table. invalid_argument for a row >= shape[0]. The default loads the whole tensor
    // once and copies the rows out; sources that can read rows directly should override it.
    virtual Result<std::vector<float>> load_rows(std::string_view name,
                                                 std::span<const uint64_t> rows) const;
    // A linear's weight for its product (model/matrix.hpp): load() as a Matrix by default; a
    // source of quantized weights hands those out packed. Only for tensors the caller reads
    // through matmul_wt(Matrix) alone.
    virtual Result<Matrix> load_matrix(std::string_view name) const;
};

// Weights read from a safetensors checkpoint (F32, F16 or BF16 tensors), one tensor per call.
// Holds a reference: the Checkpoint must outlive this object.
class CheckpointWeights final : public WeightSource {
  public:
    explicit CheckpointWeights(const io::Checkpoint& checkpoint) : ckpt_(&checkpoint) {}

    bool has(std::string_view name) const override;
    Result<std::vector<uint64_t>> shape(std::string_view name) const override;
    Result<std::vector<float>> load(std::string_view name) const override;
    Result<std::vector<float>> load_rows(std::string_view name,
                                         std::span<const uint64_t> rows) const override;

  private:
    const io::Checkpoint* ckpt_;
};

}  // namespace sutra::model
