#pragma once
// F32 forward pass of the Llama family (llama, mistral, qwen2, qwen3), run block by block.
//
//   x = embed_tokens[ids]                                     [T, hidden]
//   per block:  h = rmsnorm(x) * input_layernorm
//               q,k,v = h W{q,k,v}^T (+ bias)
//               qwen3: q, k = rmsnorm per head of width d (* q_norm, * k_norm)
//               rotary on q, k (rotate_half: pairs (i, i+d/2))
//               x += softmax(q k^T / sqrt(d) + causal mask) v  Wo^T (+ o bias)  (GQA heads;
//                    mistral: keys with q_pos - k_pos < sliding_window only)
//               h = rmsnorm(x) * post_attention_layernorm
//               x += (silu(h Wgate^T) * (h Wup^T)) Wdown^T
//   logits = (rmsnorm(x) * model.norm) W_lm^T   (W_lm = embed_tokens when tie_word_embeddings)
//
// A whole sequence is processed at once (prefill: [T, hidden] matrices, cblas_sgemm), or one
// or more tokens at a time after earlier ones when a KvCache is given. Weights come only from
// a WeightSource, one block at a time: by default a block's weights are loaded when it runs
// and released afterwards, so memory holds one block (plus activations) and a model larger
// than RAM can run; LlamaOptions::keep_weights keeps every loaded tensor instead.
//
// Determinism: every reduction has a fixed order, and OpenBLAS runs single-threaded during
// run_block / run_head (its sgemm results depend on its thread count; the previous setting is
// restored on return), so the same inputs give the same bits whatever the OpenBLAS thread
// count. The attention softmax uses its own vectorisable exp (within 2 ulp of the exact one).
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/llama/llama_config.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model {

// Keys (after RoPE) and values of the positions processed so far, per layer, each
// [length, num_key_value_heads * head_dim]. Positions start at 0.
struct KvCache {
    std::vector<std::vector<float>> keys;
    std::vector<std::vector<float>> values;
    std::vector<int64_t> lengths;
    int64_t length() const { return lengths.empty() ? 0 : lengths.front(); }
    void clear() {
        keys.clear();
        values.clear();
        lengths.clear();
    }
};

// One decoder block's tensors as f32, in checkpoint layout ([out, in] for linears). Biases
// are empty when the config implies none; q_norm / k_norm ([head_dim]) only for qwen3.
struct BlockWeights {
    int layer = -1;
    // All Matrix so that member tables can list them together; only the seven linears are
    // ever packed (when the source is a quantized .qbin).
    Matrix input_norm, q, k, v, o, q_bias, k_bias, v_bias, o_bias;
    Matrix q_norm, k_norm;
    Matrix post_norm, gate, up, down;
    uint64_t bytes() const;
};

// The final norm and the output projection [vocab, hidden] (shared with the embedding table
// when the model is tied and weights are kept).
struct HeadWeights {
    std::vector<float> norm;
    std::shared_ptr<const Matrix> lm_head;
};

// Linear names reported to the LinearObserver (model/family.hpp): "self_attn.q_proj",
// "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
// "mlp.down_proj", and "lm_head" (layer -1).

struct LlamaOptions {
    // Keep every tensor once loaded (small models; repeated evaluation and decoding). When
    // false, each call loads what it needs and releases it afterwards.
    bool keep_weights = false;
};

class Llama {
  public:
    // Checks that every tensor the config implies is present with the right shape (bad_format
    // naming the tensor, its shape and the expected one), and that no bias or q/k norm the
    // config does not imply is there (bad_format: config.json and weights disagree, and either
    // reading would be a guess). `weights` must outlive the model.
    static Result<Llama> create(const LlamaConfig& config, const WeightSource& weights,
                                LlamaOptions options = {});

    const LlamaConfig& config() const { return config_; }
    const WeightSource& weights() const { return *weights_; }
    void set_linear_observer(LinearObserver observer) { observer_ = std::move(observer); }

    // "model.layers.{layer}.{suffix}", e.g. layer_tensor(3, "mlp.up_proj.weight").
    static std::string layer_tensor(int layer, std::string_view suffix);

    // x = embedding rows of `tokens` (each in [0, vocab_size), else invalid_argument), with
    // row 0 at position `first_position`.
    Status embed(std::span<const int32_t> tokens, int64_t first_position, Activations& x);

    // A block's weights: the kept copy, or freshly loaded (and validated) from the source.
    Result<std::shared_ptr<const BlockWeights>> block_weights(int layer);
    // Runs one block in place on x. With a cache, attends over the cached positions too and
    // appends this block's keys/values; x.first_position must equal the cached length.
    Status run_block(const BlockWeights& w, Activations& x, KvCache* cache = nullptr) const;
    Status run_block(int layer, Activations& x, KvCache* cache = nullptr);
    // Runs one block on several independent sequences, loading its weights once.
    Status run_block(int layer, std::span<Activations> xs);

    Result<std::shared_ptr<const HeadWeights>> head_weights();
    // logits [x.rows, vocab_size] after the final norm.
    Status run_head(const HeadWeights& w, const Activations& x, std::vector<float>& logits) const;
    Status head(const Activations& x, std::vector<float>& logits);

    // embed + every block + head for `tokens`; with a cache, continues after its positions.
    // Returns logits [tokens.size(), vocab_size].
    Result<std::vector<float>> forward(std::span<const int32_t> tokens, KvCache* cache = nullptr);

    // Drops kept weights (no-op without keep_weights).
    void release_weights();

    // Sub-layers of a block, for searches over modified weights (AWQ). `xn` is the normalised
    // input [T, hidden] of one sequence whose first row is at `first_position`; `out` receives
    // the sub-layer's output [T, hidden], without the residual. No KV cache, no observer.
    // attention_sublayer: o_proj(attention(q, k, v)) with the block's biases and q/k norms;
    // `attn_in` (optional) receives o_proj's input [T, q_width]. mlp_sublayer: down(silu(gate) *
    // up); `act` (optional) receives down_proj's input [T, intermediate]. The weights' sizes must
    // match the config (run_block checks them).
    void attention_sublayer(const BlockWeights& w, const float* xn, int64_t T,
                            int64_t first_position, float* out, float* attn_in = nullptr) const;
    void mlp_sublayer(const BlockWeights& w, const float* xn, int64_t T, float* out,
                      float* act = nullptr) const;
    // RMSNorm of x [rows, hidden] with `weight` (the config's epsilon).
    void norm(const float* x, const std::vector<float>& weight, int64_t rows, float* out) const;

  private:
    Llama() = default;
    template <class Observe>
    void swiglu(const BlockWeights& w, const float* xn, int64_t T, float* out, float* act,
                const Observe& observe) const;
    Result<Matrix> load_matrix_checked(const std::string& name,
                                       std::vector<uint64_t> expected) const;
    Result<std::vector<float>> load_checked(const std::string& name,
                                            std::vector<uint64_t> expected) const;

    LlamaConfig config_;
    const WeightSource* weights_ = nullptr;
    LlamaOptions options_;
    LinearObserver observer_;
    bool has_lm_head_ = false;
    std::vector<float> inv_freq_;  // head_dim / 2 rotary frequencies
    std::vector<std::shared_ptr<const BlockWeights>> kept_blocks_;
    std::shared_ptr<const HeadWeights> kept_head_;
    std::shared_ptr<const Matrix> kept_embedding_;  // packed: rows are gathered from the source
};

}  // namespace sutra::model
