#pragma once
// A Mamba-1 model behind model::Model.
//
//   embed:     x = embedding[tokens]
//   run_block: the block of mamba_mixer.hpp, on whole windows from the initial state (fresh
//              zero conv window and SSM state per window) or continuing a MambaState
//              (x.first_position must equal the tokens that layer of the state has seen)
//   head:      logits = (rmsnorm(x) * norm_f) lm_head^T   (lm_head = the embedding when tied)
//
// Linear names (LinearObserver, linear_tensor, block_linears): "mixer.in_proj",
// "mixer.x_proj", "mixer.dt_proj", "mixer.out_proj"; "lm_head" for the head (layer -1).
// AWQ scaling groups: in_proj's input is the block's RMSNorm output (1/s folds into
// norm.weight); dt_proj's input is the first dt_rank outputs of x_proj (1/s folds into those
// rows of x_proj.weight). x_proj (after the conv and SiLU) and out_proj (after the gate) get
// the clipping search only. A_log is kept unquantized (keep_reason).
#include <memory>
#include <string>
#include <vector>

#include "sutra/model/family.hpp"
#include "sutra/model/mamba/mamba_config.hpp"
#include "sutra/model/mamba/mamba_state.hpp"
#include "sutra/model/mamba/mamba_tensors.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model::mamba {

class MambaModel final : public Model {
  public:
    // Checks every tensor (check_tensors); `weights` must outlive the model.
    static Result<std::unique_ptr<MambaModel>> create(const MambaConfig& cfg,
                                                      const WeightSource& weights,
                                                      const ModelOptions& options);

    const ModelInfo& info() const override { return info_; }
    const MambaConfig& config() const { return cfg_; }
    void set_linear_observer(LinearObserver observer) override { observer_ = std::move(observer); }
    std::string linear_tensor(int layer, std::string_view linear) const override;
    std::unique_ptr<SequenceState> new_state() const override;

    Status embed(std::span<const int32_t> tokens, int64_t first_position, Activations& x) override;
    Status run_block(int layer, std::span<Activations> xs) override;
    Status run_block(int layer, Activations& x, SequenceState& state) override;
    Status head(const Activations& x, std::vector<float>& logits) override;
    Status head_each(std::span<const Activations> xs, const LogitsSink& each) override;
    void release_weights() override;

    Result<BlockTensors> load_block(int layer) override;
    std::string keep_reason(std::string_view tensor) const override;
    std::string block_tensor(int layer, std::string_view name) const override;
    std::vector<BlockLinear> block_linears(int layer) const override;
    std::vector<ScaleGroup> scale_groups(int layer) const override;
    Status run_block_with(const BlockTensors& w, std::span<Activations> xs) const override;

  private:
    MambaModel(const MambaConfig& cfg, const WeightSource& weights, const ModelOptions& options);
    Result<std::shared_ptr<const BlockTensors>> block_weights(int layer);
    Result<std::shared_ptr<const HeadWeights>> head_weights();
    Status run_head(const HeadWeights& w, const Activations& x, std::vector<float>& logits) const;
    Status run_windows(const BlockTensors& w, std::span<Activations> xs) const;
    Status check_stream(const Activations& x, const char* what) const;

    MambaConfig cfg_;
    const WeightSource* weights_ = nullptr;
    ModelOptions options_;
    ModelInfo info_;
    LinearObserver observer_;
    std::vector<std::shared_ptr<const BlockTensors>> kept_blocks_;
    std::shared_ptr<const HeadWeights> kept_head_;
    std::shared_ptr<const HeadWeights> head_between_;  // between head_each calls
    std::shared_ptr<const Matrix> kept_embedding_;     // packed: rows are gathered from the source
};

}  // namespace sutra::model::mamba
