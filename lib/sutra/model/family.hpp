#pragma once
// The interface every model family implements, one folder each (model/llama, model/rwkv,
// model/mamba), and the only view of a model the rest of sutra has: evaluation, generation,
// calibration and validation are written against `Model`, never against a family.
//
// A model is run as a stack of blocks over a residual stream [tokens, hidden]:
//     x = embed(tokens); for each layer: run_block(layer, x); logits = head(x)
// in one of two forms that give the same logits (within float rounding):
//   - whole windows (calibration, evaluation): run_block(layer, windows), each window an
//     independent sequence from the initial state, all its tokens at once (matrix products
//     over the window; attention over it; a scan for recurrent families);
//   - continued (generation): run_block(layer, x, state), x's rows following the tokens the
//     state has seen; the state (Llama: the keys and values; RWKV and Mamba: the recurrent
//     state) is updated in place. One token or many at a time.
// Weights come from a WeightSource, one block at a time (ModelOptions::keep_weights keeps
// them), so a model larger than memory runs. Every call is deterministic: the same inputs give
// the same bits whatever the thread count.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model {

// The residual stream of one sequence: rows = tokens, cols = hidden_size, row-major.
struct Activations {
    int64_t rows = 0;
    int64_t cols = 0;
    int64_t first_position = 0;  // position of row 0 in its sequence
    std::vector<float> data;
};

// Called with the input of every linear layer before it is applied: the layer (-1 for the
// head), the linear's name inside the block (the family's names, e.g. "self_attn.q_proj",
// "att.key", "mixer.in_proj"; "lm_head" for the head), and its input x [rows, cols] (row-major,
// valid during the call only). Linears that share an input are reported once each.
using LinearObserver = std::function<void(int layer, std::string_view linear, const float* x,
                                          int64_t rows, int64_t cols)>;

// What the generic code needs to know of a model.
struct ModelInfo {
    std::string family;   // "llama", "rwkv", "mamba"
    std::string variant;  // llama: model_type ("llama", "qwen3", ...); rwkv: "4", "5.2", "6",
                          // "7"; mamba: "1"
    int64_t hidden_size = 0;
    int64_t num_layers = 0;
    int64_t vocab_size = 0;
    // The token every evaluation and calibration window starts with, -1 when the family
    // starts from its initial state with no such token (RWKV).
    int32_t bos_id = -1;
    std::vector<int32_t> eos_ids;  // from the config; generation stops at any of them
};

// One block's tensors as f32 in checkpoint layout ([out, in] for a linear's weight), by their
// name inside the block ("att.key.weight", "ln1.bias", "mixer.in_proj.weight"). What the
// quantization methods change and run again.
struct BlockTensors {
    int layer = -1;
    // A linear's weight is packed (Matrix::packed) when the source is a quantized .qbin.
    std::map<std::string, Matrix, std::less<>> tensors;
    Matrix* find(std::string_view name);
    const Matrix* find(std::string_view name) const;
};

// A linear of a block the methods may quantize: its weight is BlockTensors "<name>.weight"
// [out, in], its input is what the LinearObserver reports as `name`.
struct BlockLinear {
    std::string name;
    int64_t out = 0;
    int64_t in = 0;
    // Whether AWQ's clipping search may narrow its range (not for Llama's q and k, whose
    // outputs meet in a softmax).
    bool clip_search = true;
};

// How AWQ may scale the input channels of linears that share one input (x -> x / s,
// W -> W diag(s)) and keep the block's function: 1/s is folded into what produces that input.
struct ScaleGroup {
    std::string name;                  // e.g. "att.kvr"
    std::vector<std::string> linears;  // the BlockLinear names fed by the input (same width)
    enum class Fold {
        vector,     // each fold tensor (1-D, the input's width: a norm's weight and bias) / s
        rows,       // rows of each fold tensor (a preceding linear's weight, [in, *], and
                    // its bias) / s: that linear's outputs are the input, unchanged after
        rows_sqrt,  // rows / sqrt(s): the input is the square of that linear's (ReLU) output
    };
    Fold fold = Fold::vector;
    std::vector<std::string> fold_tensors;  // BlockTensors names
    int64_t fold_row_offset = 0;  // rows: the input is rows [offset, offset + width) of them
    // The output the AWQ loss is measured on: a module of the block (run_module) that
    // contains the linears; "" = the output of the group's linears themselves.
    std::string loss_module;
};

// Memory of one sequence between continued calls. Created by Model::new_state (empty: no
// token seen); holds what every layer needs.
class SequenceState {
  public:
    virtual ~SequenceState() = default;
    // Tokens the last block has consumed: the position the next token will have.
    virtual int64_t position() const = 0;
};

struct ModelOptions {
    // Keep every tensor once loaded (small models; repeated evaluation and decoding). When
    // false, each call loads what it needs and releases it afterwards.
    bool keep_weights = false;
};

class Model {
  public:
    virtual ~Model() = default;

    virtual const ModelInfo& info() const = 0;
    virtual void set_linear_observer(LinearObserver observer) = 0;
    // The weight tensor of a linear the observer names (layer -1: the head), e.g.
    // (3, "att.key") -> "blocks.3.att.key.weight"; empty when it has no such linear.
    virtual std::string linear_tensor(int layer, std::string_view linear) const = 0;
    virtual std::unique_ptr<SequenceState> new_state() const = 0;

    // x = the embedding of `tokens` (each in [0, vocab_size), else invalid_argument), row 0 at
    // position `first_position`.
    virtual Status embed(std::span<const int32_t> tokens, int64_t first_position,
                         Activations& x) = 0;
    // One block on several independent windows, each from the initial state (first_position
    // 0), in place; the block's weights are loaded once.
    virtual Status run_block(int layer, std::span<Activations> xs) = 0;
    // One block continuing a sequence, in place: x.first_position must be the number of
    // tokens this layer of `state` has seen (else invalid_argument); the layer's state is
    // advanced by x.rows tokens.
    virtual Status run_block(int layer, Activations& x, SequenceState& state) = 0;
    // logits [x.rows, vocab_size].
    virtual Status head(const Activations& x, std::vector<float>& logits) = 0;
    // The head on several windows, loading its weights once: `each(i, logits)` for window i in
    // order (logits valid during the call; an error from it stops and is returned). The
    // default calls head() per window; a family whose head() loads weights overrides it and
    // keeps them from one head_each call to the next until a block runs or release_weights.
    using LogitsSink = std::function<Status(size_t window, std::span<const float> logits)>;
    virtual Status head_each(std::span<const Activations> xs, const LogitsSink& each);
    // Reports the head's input for each window to the linear observer (layer -1), as head()
    // does, for calibration, which needs that input and not the logits. The default runs
    // head_each and drops the logits; a family overrides it to skip the vocabulary-sized
    // product (and loading its weights).
    virtual Status observe_head(std::span<const Activations> xs);
    // Drops kept weights (no-op without keep_weights).
    virtual void release_weights() = 0;

    // The block-level view the quantization methods use (AWQ, GPTQ); a family that does not
    // provide it returns unsupported from each.
    // A block's tensors, freshly loaded (checked as run_block checks them).
    virtual Result<BlockTensors> load_block(int layer);
    // Why a 2-D tensor must stay unquantized whatever the rules say (e.g. "RWKV time-mix
    // parameter"), or "" (the default) when the plan may quantize it.
    virtual std::string keep_reason(std::string_view tensor) const;
    // The full name of a block tensor, e.g. (3, "att.key.weight") -> "blocks.3.att.key.weight".
    virtual std::string block_tensor(int layer, std::string_view name) const;
    // The quantizable linears of a block, in the order the block applies them.
    virtual std::vector<BlockLinear> block_linears(int layer) const;
    // The AWQ scaling groups of a block (linears in none of them get only the clipping search).
    virtual std::vector<ScaleGroup> scale_groups(int layer) const;
    // run_block(layer, windows) with the given tensors instead of the checkpoint's (the linear
    // observer sees the inputs as usual).
    virtual Status run_block_with(const BlockTensors& w, std::span<Activations> xs) const;
    // The output [x.rows, width] of a module of the block (ScaleGroup::loss_module) for one
    // window from the initial state whose block input is x, with tensors w.
    virtual Status run_module(const BlockTensors& w, std::string_view module, const Activations& x,
                              std::vector<float>& out) const;
};

// embed + every block + head. Without a state: one window from the initial state. With one:
// continues it (the tokens follow those it has seen) and advances it. Returns logits
// [tokens.size(), vocab_size].
Result<std::vector<float>> forward(Model& model, std::span<const int32_t> tokens,
                                   SequenceState* state = nullptr);

}  // namespace sutra::model
