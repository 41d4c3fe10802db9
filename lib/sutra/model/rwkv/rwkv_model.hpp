#pragma once
// An RWKV model (v4, v5.2, v6, v7) behind model::Model.
//
//   embed:     x = ln0(emb[tokens])   ln0 (rwkv.cpp blocks.0.ln0, Hugging Face pre_ln) belongs
//                                     to the embedding here, so that every block is alike and
//                                     the stream entering block 0 is what its ln1 sees
//   run_block: the block of rwkv_block.hpp; windows from the initial state, or continuing an
//              RwkvState (first_position must equal the tokens the layer has seen)
//   head:      logits = ln_out(x) head^T
//
// RWKV-7's blocks 1.. mix in the values v of block 0 for the same tokens. A state keeps them
// (for the tokens some later block has not yet seen). For whole windows the model keeps them,
// found by the content of a block's input: block 0 files its v under a hash of its output
// (rows and bits), every later block finds v under the hash of its input and files it again
// under the hash of its output. So windows may be copied or moved between blocks, but a block
// after 0 only runs on what an earlier block of the same pass produced (else invalid_argument).
// Block 0 run after a later block starts a new pass and forgets the previous values; several
// block-0 calls in a row accumulate (windows in batches, layer by layer).
#include <memory>
#include <string>
#include <vector>

#include "sutra/model/family.hpp"
#include "sutra/model/rwkv/rwkv_config.hpp"
#include "sutra/model/rwkv/rwkv_names.hpp"
#include "sutra/model/rwkv/rwkv_scale_groups.hpp"
#include "sutra/model/rwkv/rwkv_state.hpp"
#include "sutra/model/rwkv/rwkv_tensors.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model::rwkv {

class RwkvModel final : public Model {
  public:
    // Checks every tensor (check_tensors); `weights` must outlive the model.
    static Result<std::unique_ptr<RwkvModel>> create(const RwkvConfig& cfg,
                                                     const WeightSource& weights,
                                                     const ModelOptions& options);

    const ModelInfo& info() const override { return info_; }
    const RwkvConfig& config() const { return cfg_; }
    void set_linear_observer(LinearObserver observer) override { observer_ = std::move(observer); }
    std::string linear_tensor(int layer, std::string_view linear) const override;
    std::unique_ptr<SequenceState> new_state() const override;

    Status embed(std::span<const int32_t> tokens, int64_t first_position, Activations& x) override;
    Status run_block(int layer, std::span<Activations> xs) override;
    Status run_block(int layer, Activations& x, SequenceState& state) override;
    Status head(const Activations& x, std::vector<float>& logits) override;
    Status head_each(std::span<const Activations> xs, const LogitsSink& each) override;
    void release_weights() override;

    // The block view (rwkv_tensors.hpp, rwkv_scale_groups.hpp). Modules of run_module: "att"
    // (the time-mix output of ln1(x)) and "ffn" (the channel-mix output after it).
    Result<BlockTensors> load_block(int layer) override;
    std::string block_tensor(int layer, std::string_view name) const override;
    // Every tensor of a block's time mix that is not one of its linears (time_mix_*, decays,
    // bonuses, v7's r_k, ...) is kept, whatever its shape.
    std::string keep_reason(std::string_view tensor) const override;
    std::vector<BlockLinear> block_linears(int layer) const override;
    std::vector<ScaleGroup> scale_groups(int layer) const override;
    Status run_block_with(const BlockTensors& w, std::span<Activations> xs) const override;
    Status run_module(const BlockTensors& w, std::string_view module, const Activations& x,
                      std::vector<float>& out) const override;

  private:
    RwkvModel(const RwkvConfig& cfg, const WeightSource& weights, const ModelOptions& options);
    Result<std::shared_ptr<const BlockWeights>> block_weights(int layer);
    Result<std::shared_ptr<const HeadWeights>> head_weights();
    Status run_head(const HeadWeights& w, const Activations& x, std::vector<float>& logits) const;
    Status check_stream(const Activations& x, const char* what) const;
    Status check_state(const RwkvState& s) const;

    // RWKV-7 window values: the v of block 0, by the hash of a block's input or output.
    struct WindowValues {
        uint64_t key = 0;
        std::shared_ptr<const Vec> v;
    };
    Status run_windows(const BlockWeights& w, std::span<Activations> xs) const;
    Result<std::shared_ptr<const Vec>> window_values(const Activations& x, int layer) const;

    RwkvConfig cfg_;
    Names names_;
    const WeightSource* weights_ = nullptr;
    ModelOptions options_;
    ModelInfo info_;
    LinearObserver observer_;
    std::vector<std::shared_ptr<const BlockWeights>> kept_blocks_;
    std::shared_ptr<const HeadWeights> kept_head_;
    std::shared_ptr<const HeadWeights> head_between_;  // between head_each calls
    std::shared_ptr<const Matrix> kept_embedding_;     // packed: rows are gathered from the source
    std::shared_ptr<const std::pair<Vec, Vec>> kept_ln0_;
    mutable std::vector<WindowValues> window_values_;
    mutable int last_window_layer_ = -1;
};

}  // namespace sutra::model::rwkv
