#pragma once
// The tensors of a Mamba-1 model, by their name inside a block (BlockTensors names, the
// checkpoint's "backbone.layers.N." prefix removed), with the shapes a MambaConfig implies
// (H hidden, I inner, N state, K conv, R dt_rank, V vocab):
//   norm.weight [H]
//   mixer.in_proj.weight [2I, H]     (+ mixer.in_proj.bias [2I] when bias)
//   mixer.conv1d.weight [I, 1, K]    (+ mixer.conv1d.bias [I] when conv_bias)
//   mixer.x_proj.weight [R + 2N, I]
//   mixer.dt_proj.weight [I, R], mixer.dt_proj.bias [I]
//   mixer.A_log [I, N], mixer.D [I]
//   mixer.out_proj.weight [H, I]     (+ mixer.out_proj.bias [H] when bias)
// and outside the blocks: the embedding [V, H], backbone.norm_f.weight [H], lm_head.weight
// [V, H] unless tied.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/mamba/mamba_config.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model::mamba {

struct TensorSpec {
    std::string name;  // inside the block
    std::vector<uint64_t> shape;
};

// The block tensors the config implies, in the order above.
std::vector<TensorSpec> block_tensor_specs(const MambaConfig& c);

// Every tensor the model will use is present with its shape (not_found / bad_format naming the
// tensor, its shape and the expected one), and no bias the config rules out is there
// (bad_format: config.json and the weights disagree).
Status check_tensors(const MambaConfig& c, const WeightSource& w);

// A block's tensors, loaded and checked (bad_format for a size the source did not keep).
Result<BlockTensors> load_block_tensors(const MambaConfig& c, const WeightSource& w, int layer);

// Every tensor the config implies is in `b` with its size, and no other (invalid_argument
// naming the tensor: a caller's modified block must keep the shapes).
Status check_block_tensors(const MambaConfig& c, const BlockTensors& b);

// The final norm and the head [V, H] (shared with the kept embedding table when tied).
struct HeadWeights {
    std::vector<float> norm;
    std::shared_ptr<const Matrix> lm_head;
};

// `name` loaded as f32 with `shape`'s element count (bad_format otherwise).
// A linear's weight of that shape, packed when the source holds it packed.
Result<Matrix> load_matrix_checked(const WeightSource& w, const std::string& name,
                                   const std::vector<uint64_t>& shape);
Result<std::vector<float>> load_checked(const WeightSource& w, const std::string& name,
                                        const std::vector<uint64_t>& shape);

}  // namespace sutra::model::mamba
