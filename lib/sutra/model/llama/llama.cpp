#include "sutra/model/llama/llama.hpp"

#include <cblas.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numbers>

#include "sutra/model/blas.hpp"
#include "sutra/model/embedding.hpp"
#include "sutra/model/fast_math.hpp"

namespace sutra::model {
namespace {

constexpr int64_t kMaxRows = int64_t{1} << 24;  // tokens per call

std::string shape_str(const std::vector<uint64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i)
        out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

// Each row of x [rows, cols] scaled to unit root-mean-square, times w [cols].
void rms_norm(const float* x, const float* w, float* out, int64_t rows, int64_t cols, double eps) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        float* yr = out + r * cols;
        double ss = 0.0;
        for (int64_t c = 0; c < cols; ++c)
            ss += static_cast<double>(xr[c]) * static_cast<double>(xr[c]);
        const auto inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(cols) + eps));
        for (int64_t c = 0; c < cols; ++c)
            yr[c] = xr[c] * inv * w[c];
    }
}

// y [rows, out] = x [rows, in] * W^T (+ bias), W [out, in] row-major.
void linear(const float* x, int64_t rows, int64_t in, const Matrix& w, int64_t out,
            const std::vector<float>& bias, float* y) {
    matmul_wt(x, rows, in, w, out, y);
    if (!bias.empty()) {
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t c = 0; c < out; ++c)
                y[r * out + c] += bias[static_cast<size_t>(c)];
        }
    }
}

// Rotary embedding, Hugging Face rotate_half layout: in every head of width d, element i
// pairs with i + d/2 and is rotated by angle pos * inv_freq[i] (computed in f32, as the
// reference implementations do).
void apply_rope(float* x, int64_t rows, int64_t heads, int64_t head_dim, int64_t first_position,
                const std::vector<float>& inv_freq) {
    const int64_t half = head_dim / 2;
    const int64_t width = heads * head_dim;
    std::vector<float> cs(static_cast<size_t>(half)), sn(static_cast<size_t>(half));
    for (int64_t t = 0; t < rows; ++t) {
        const auto pos = static_cast<float>(first_position + t);
        for (int64_t i = 0; i < half; ++i) {
            const float angle = pos * inv_freq[static_cast<size_t>(i)];
            cs[static_cast<size_t>(i)] = std::cos(angle);
            sn[static_cast<size_t>(i)] = std::sin(angle);
        }
        float* row = x + t * width;
        for (int64_t h = 0; h < heads; ++h) {
            float* v = row + h * head_dim;
            for (int64_t i = 0; i < half; ++i) {
                const float a = v[i];
                const float b = v[i + half];
                const float c = cs[static_cast<size_t>(i)];
                const float s = sn[static_cast<size_t>(i)];
                v[i] = a * c - b * s;
                v[i + half] = b * c + a * s;
            }
        }
    }
}

std::vector<float> rope_frequencies(const LlamaConfig& c) {
    const int64_t half = c.head_dim / 2;
    std::vector<float> f(static_cast<size_t>(half));
    for (int64_t i = 0; i < half; ++i) {
        double freq = 1.0 / std::pow(c.rope_theta,
                                     static_cast<double>(2 * i) / static_cast<double>(c.head_dim));
        if (c.rope_scaling == RopeScaling::linear) {
            freq /= c.rope_factor;
        } else if (c.rope_scaling == RopeScaling::llama3) {
            const double old_ctx = static_cast<double>(c.rope_original_max_position);
            const double low_wavelen = old_ctx / c.rope_low_freq_factor;
            const double high_wavelen = old_ctx / c.rope_high_freq_factor;
            const double wavelen = 2.0 * std::numbers::pi / freq;
            if (wavelen > low_wavelen) {
                freq /= c.rope_factor;
            } else if (wavelen >= high_wavelen) {
                const double smooth = (old_ctx / wavelen - c.rope_low_freq_factor) /
                                      (c.rope_high_freq_factor - c.rope_low_freq_factor);
                freq = (1.0 - smooth) * freq / c.rope_factor + smooth * freq;
            }
        }
        f[static_cast<size_t>(i)] = static_cast<float>(freq);
    }
    return f;
}

// Largest of x[0..n), n >= 1, in eight lanes so that the compiler can vectorise it.
float row_max(const float* x, int64_t n) {
    float lane[8];
    for (float& l : lane)
        l = x[0];
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        for (int k = 0; k < 8; ++k)
            lane[k] = x[j + k] > lane[k] ? x[j + k] : lane[k];
    }
    for (; j < n; ++j)
        lane[0] = x[j] > lane[0] ? x[j] : lane[0];
    float m = lane[0];
    for (int k = 1; k < 8; ++k)
        m = lane[k] > m ? lane[k] : m;
    return m;
}

// x[i] = exp(x[i] - max(x)) for i < n (n >= 1); returns the sum of the results.
//
// exp as model/fast_math.hpp's exp_nonpositive (t = x - max(x) <= 0): plain arithmetic, so
// the loop vectorises (the softmax of attention is the hottest scalar loop of the forward
// pass). The sum runs in eight float lanes, then in double, in a fixed order, so the result
// is deterministic.
double exp_shifted(float* x, int64_t n) {
    const float mx = row_max(x, n);
    for (int64_t i = 0; i < n; ++i)
        x[i] = exp_nonpositive(x[i] - mx);
    float lane[8] = {};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        for (int k = 0; k < 8; ++k)
            lane[k] += x[j + k];
    }
    double sum = 0.0;
    for (; j < n; ++j)
        sum += static_cast<double>(x[j]);
    for (float l : lane)
        sum += static_cast<double>(l);
    return sum;
}

// Causal (optionally sliding-window) grouped-query attention. q [T, heads*d] at positions
// first_position.., keys/values [S, kv_heads*d] at positions key_pos0..; out [T, heads*d].
// Queries are taken in blocks of kQueryBlock rows so that only the keys some row of the
// block can see enter the two matrix products.
void attention(const LlamaConfig& c, const float* q, const float* keys, const float* values,
               int64_t T, int64_t S, int64_t first_position, int64_t key_pos0, float* out) {
    constexpr int64_t kQueryBlock = 64;
    const int64_t d = c.head_dim;
    const int64_t qw = c.q_width();
    const int64_t kvw = c.kv_width();
    const int64_t group = c.num_attention_heads / c.num_key_value_heads;
    const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
    std::vector<float> scores(static_cast<size_t>(std::min(T, kQueryBlock) * S));
    // Visible keys of query row i: [lo(i), hi(i)] (indices into keys).
    auto hi_of = [&](int64_t i) { return std::min(S - 1, first_position + i - key_pos0); };
    auto lo_of = [&](int64_t i) {
        if (c.sliding_window <= 0) return int64_t{0};
        return std::max<int64_t>(0, first_position + i - c.sliding_window + 1 - key_pos0);
    };
    for (int64_t head = 0; head < c.num_attention_heads; ++head) {
        const int64_t g = head / group;
        for (int64_t i0 = 0; i0 < T; i0 += kQueryBlock) {
            const int64_t rows = std::min(kQueryBlock, T - i0);
            const int64_t k0 = lo_of(i0);
            const int64_t width = hi_of(i0 + rows - 1) + 1 - k0;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
                        static_cast<int>(width), static_cast<int>(d), scale, q + i0 * qw + head * d,
                        static_cast<int>(qw), keys + k0 * kvw + g * d, static_cast<int>(kvw), 0.0f,
                        scores.data(), static_cast<int>(width));
            for (int64_t r = 0; r < rows; ++r) {
                float* row = scores.data() + r * width;
                const int64_t lo = lo_of(i0 + r) - k0;
                const int64_t hi = hi_of(i0 + r) - k0;
                const double sum = exp_shifted(row + lo, hi + 1 - lo);
                const auto inv = static_cast<float>(1.0 / sum);
                for (int64_t j = 0; j < lo; ++j)
                    row[j] = 0.0f;
                for (int64_t j = lo; j <= hi; ++j)
                    row[j] *= inv;
                for (int64_t j = hi + 1; j < width; ++j)
                    row[j] = 0.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows),
                        static_cast<int>(d), static_cast<int>(width), 1.0f, scores.data(),
                        static_cast<int>(width), values + k0 * kvw + g * d, static_cast<int>(kvw),
                        0.0f, out + i0 * qw + head * d, static_cast<int>(qw));
        }
    }
}

// q [T, q_width], k and v [T, kv_width] from the normalised block input xn [T, hidden]: the
// projections with their biases, then (qwen3) the per-head RMSNorm of q and k, then rotary
// embeddings on q and k at positions first_position...
void project_qkv(const LlamaConfig& c, const BlockWeights& w, const std::vector<float>& inv_freq,
                 const float* xn, int64_t T, int64_t first_position, float* q, float* k, float* v) {
    const int64_t H = c.hidden_size, qw = c.q_width(), kvw = c.kv_width(), d = c.head_dim;
    linear(xn, T, H, w.q, qw, w.q_bias, q);
    linear(xn, T, H, w.k, kvw, w.k_bias, k);
    linear(xn, T, H, w.v, kvw, w.v_bias, v);
    if (!w.q_norm.empty()) {
        // In place: each head row's sum of squares is taken before the row is written.
        rms_norm(q, w.q_norm.data(), q, T * c.num_attention_heads, d, c.rms_norm_eps);
        rms_norm(k, w.k_norm.data(), k, T * c.num_key_value_heads, d, c.rms_norm_eps);
    }
    apply_rope(q, T, c.num_attention_heads, d, first_position, inv_freq);
    apply_rope(k, T, c.num_key_value_heads, d, first_position, inv_freq);
}

void add_into(float* x, const float* y, size_t n) {
    for (size_t i = 0; i < n; ++i)
        x[i] += y[i];
}

const char* kLinearSuffix[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                               "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                               "mlp.down_proj"};

}  // namespace

uint64_t BlockWeights::bytes() const {
    uint64_t n = 0;
    for (const auto* t : {&input_norm, &q, &k, &v, &o, &q_bias, &k_bias, &v_bias, &o_bias, &q_norm,
                          &k_norm, &post_norm, &gate, &up, &down}) {
        n += t->size() * sizeof(float);
    }
    return n;
}

std::string Llama::layer_tensor(int layer, std::string_view suffix) {
    return "model.layers." + std::to_string(layer) + "." + std::string(suffix);
}

Result<Llama> Llama::create(const LlamaConfig& config, const WeightSource& weights,
                            LlamaOptions options) {
    Llama m;
    m.config_ = config;
    m.weights_ = &weights;
    m.options_ = options;
    const LlamaConfig& c = config;
    if (c.hidden_size <= 0 || c.num_hidden_layers <= 0 || c.head_dim <= 0 || c.head_dim % 2 ||
        c.num_attention_heads <= 0 || c.num_key_value_heads <= 0 ||
        c.num_attention_heads % c.num_key_value_heads || c.vocab_size <= 0 ||
        c.intermediate_size <= 0) {
        return make_error(Errc::invalid_argument,
                          "Llama config is incomplete or inconsistent (use parse_llama_config)");
    }

    // required: must be there; else must not be there when `forbidden` (a tensor the config
    // does not imply), and is checked for its shape when present.
    auto check = [&](const std::string& name, const std::vector<uint64_t>& expected, bool required,
                     bool forbidden = false) -> Status {
        if (!required && forbidden && weights.has(name)) {
            return make_error(Errc::bad_format,
                              "tensor '" + name + "' is in the weights, but a " + c.model_type +
                                  " model with this config.json has no such tensor (biases "
                                  "follow attention_bias for llama and qwen3; qwen2 has q/k/v "
                                  "biases only, mistral none; q/k norms are qwen3's); "
                                  "transformers would ignore it. Fix config.json or the weights "
                                  "so that they belong together");
        }
        if (!weights.has(name)) {
            if (!required) return {};
            return make_error(Errc::not_found, "tensor '" + name + "' is missing; a " +
                                                   c.model_type +
                                                   " model with this config.json needs it");
        }
        SUTRA_ASSIGN(std::vector<uint64_t> got, weights.shape(name));
        if (got != expected) {
            return make_error(Errc::bad_format,
                              "tensor '" + name + "' has shape " + shape_str(got) +
                                  " but config.json implies " + shape_str(expected) +
                                  " (config.json and weights do not belong together)");
        }
        return {};
    };
    const int64_t h = c.hidden_size;
    SUTRA_TRY(check("model.embed_tokens.weight", dims(c.vocab_size, h), true));
    for (int l = 0; l < c.num_hidden_layers; ++l) {
        SUTRA_TRY(check(layer_tensor(l, "input_layernorm.weight"), dims(h), true));
        SUTRA_TRY(check(layer_tensor(l, "self_attn.q_proj.weight"), dims(c.q_width(), h), true));
        SUTRA_TRY(check(layer_tensor(l, "self_attn.k_proj.weight"), dims(c.kv_width(), h), true));
        SUTRA_TRY(check(layer_tensor(l, "self_attn.v_proj.weight"), dims(c.kv_width(), h), true));
        SUTRA_TRY(check(layer_tensor(l, "self_attn.o_proj.weight"), dims(h, c.q_width()), true));
        SUTRA_TRY(check(layer_tensor(l, "self_attn.q_proj.bias"), dims(c.q_width()),
                        c.attention_bias, true));
        SUTRA_TRY(check(layer_tensor(l, "self_attn.k_proj.bias"), dims(c.kv_width()),
                        c.attention_bias, true));
        SUTRA_TRY(check(layer_tensor(l, "self_attn.v_proj.bias"), dims(c.kv_width()),
                        c.attention_bias, true));
        SUTRA_TRY(check(layer_tensor(l, "self_attn.o_proj.bias"), dims(h), c.o_bias, true));
        SUTRA_TRY(
            check(layer_tensor(l, "self_attn.q_norm.weight"), dims(c.head_dim), c.qk_norm, true));
        SUTRA_TRY(
            check(layer_tensor(l, "self_attn.k_norm.weight"), dims(c.head_dim), c.qk_norm, true));
        SUTRA_TRY(check(layer_tensor(l, "post_attention_layernorm.weight"), dims(h), true));
        SUTRA_TRY(
            check(layer_tensor(l, "mlp.gate_proj.weight"), dims(c.intermediate_size, h), true));
        SUTRA_TRY(check(layer_tensor(l, "mlp.up_proj.weight"), dims(c.intermediate_size, h), true));
        SUTRA_TRY(
            check(layer_tensor(l, "mlp.down_proj.weight"), dims(h, c.intermediate_size), true));
    }
    SUTRA_TRY(check("model.norm.weight", dims(h), true));
    // Tied: the head is the embedding table (transformers ties lm_head to it, whatever the file
    // holds). Untied: lm_head.weight is required (transformers would initialise a missing one
    // at random).
    m.has_lm_head_ = !c.tie_word_embeddings;
    if (!c.tie_word_embeddings && !weights.has("lm_head.weight")) {
        return make_error(Errc::not_found,
                          "tensor 'lm_head.weight' is missing and config.json has "
                          "tie_word_embeddings false; set tie_word_embeddings true if the head "
                          "shares model.embed_tokens.weight");
    }
    if (m.has_lm_head_) {
        SUTRA_TRY(check("lm_head.weight", dims(c.vocab_size, h), true));
    }
    m.inv_freq_ = rope_frequencies(c);
    m.kept_blocks_.resize(static_cast<size_t>(c.num_hidden_layers));
    return m;
}

Result<std::vector<float>> Llama::load_checked(const std::string& name,
                                               std::vector<uint64_t> expected) const {
    SUTRA_ASSIGN(std::vector<float> v, weights_->load(name));
    uint64_t n = 1;
    for (uint64_t d : expected)
        n *= d;
    if (v.size() != n) {
        return make_error(Errc::bad_format, "tensor '" + name + "' loaded " +
                                                std::to_string(v.size()) + " values, expected " +
                                                shape_str(expected));
    }
    return v;
}

Result<Matrix> Llama::load_matrix_checked(const std::string& name,
                                          std::vector<uint64_t> expected) const {
    SUTRA_ASSIGN(Matrix m, weights_->load_matrix(name));
    uint64_t n = 1;
    for (uint64_t d : expected)
        n *= d;
    if (m.numel() != n) {
        return make_error(Errc::bad_format, "tensor '" + name + "' loaded " +
                                                std::to_string(m.numel()) + " values, expected " +
                                                shape_str(expected));
    }
    return m;
}

Status Llama::embed(std::span<const int32_t> tokens, int64_t first_position, Activations& x) {
    const int64_t h = config_.hidden_size;
    SUTRA_TRY(check_tokens(tokens, first_position, config_.vocab_size, kMaxRows));
    const std::string name = "model.embed_tokens.weight";
    if (options_.keep_weights && !kept_embedding_) {
        SUTRA_ASSIGN(Matrix table, load_matrix_checked(name, dims(config_.vocab_size, h)));
        kept_embedding_ = std::make_shared<const Matrix>(std::move(table));
    }
    const std::vector<float>* table =
        kept_embedding_ && !kept_embedding_->packed ? kept_embedding_.get() : nullptr;
    SUTRA_ASSIGN(x.data, gather_rows(*weights_, name, tokens, h, table));
    x.rows = static_cast<int64_t>(tokens.size());
    x.cols = h;
    x.first_position = first_position;
    return {};
}

Result<std::shared_ptr<const BlockWeights>> Llama::block_weights(int layer) {
    if (layer < 0 || layer >= config_.num_hidden_layers) {
        return make_error(Errc::invalid_argument,
                          "layer " + std::to_string(layer) + " is outside [0, " +
                              std::to_string(config_.num_hidden_layers) + ")");
    }
    auto& kept = kept_blocks_[static_cast<size_t>(layer)];
    if (kept) return kept;
    const LlamaConfig& c = config_;
    const int64_t h = c.hidden_size;
    auto w = std::make_shared<BlockWeights>();
    w->layer = layer;
    auto t = [&](std::string_view suffix) { return layer_tensor(layer, suffix); };
    SUTRA_ASSIGN(w->input_norm, load_checked(t("input_layernorm.weight"), dims(h)));
    SUTRA_ASSIGN(w->q, load_matrix_checked(t("self_attn.q_proj.weight"), dims(c.q_width(), h)));
    SUTRA_ASSIGN(w->k, load_matrix_checked(t("self_attn.k_proj.weight"), dims(c.kv_width(), h)));
    SUTRA_ASSIGN(w->v, load_matrix_checked(t("self_attn.v_proj.weight"), dims(c.kv_width(), h)));
    SUTRA_ASSIGN(w->o, load_matrix_checked(t("self_attn.o_proj.weight"), dims(h, c.q_width())));
    if (c.attention_bias) {
        SUTRA_ASSIGN(w->q_bias, load_checked(t("self_attn.q_proj.bias"), dims(c.q_width())));
        SUTRA_ASSIGN(w->k_bias, load_checked(t("self_attn.k_proj.bias"), dims(c.kv_width())));
        SUTRA_ASSIGN(w->v_bias, load_checked(t("self_attn.v_proj.bias"), dims(c.kv_width())));
    }
    if (c.o_bias) {
        SUTRA_ASSIGN(w->o_bias, load_checked(t("self_attn.o_proj.bias"), dims(h)));
    }
    if (c.qk_norm) {
        SUTRA_ASSIGN(w->q_norm, load_checked(t("self_attn.q_norm.weight"), dims(c.head_dim)));
        SUTRA_ASSIGN(w->k_norm, load_checked(t("self_attn.k_norm.weight"), dims(c.head_dim)));
    }
    SUTRA_ASSIGN(w->post_norm, load_checked(t("post_attention_layernorm.weight"), dims(h)));
    SUTRA_ASSIGN(w->gate,
                 load_matrix_checked(t("mlp.gate_proj.weight"), dims(c.intermediate_size, h)));
    SUTRA_ASSIGN(w->up, load_matrix_checked(t("mlp.up_proj.weight"), dims(c.intermediate_size, h)));
    SUTRA_ASSIGN(w->down,
                 load_matrix_checked(t("mlp.down_proj.weight"), dims(h, c.intermediate_size)));
    std::shared_ptr<const BlockWeights> out = std::move(w);
    if (options_.keep_weights) kept = out;
    return out;
}

Status Llama::run_block(const BlockWeights& w, Activations& x, KvCache* cache) const {
    const SingleThreadedBlas single_threaded;
    const LlamaConfig& c = config_;
    const int layer = w.layer;
    if (layer < 0 || layer >= c.num_hidden_layers) {
        return make_error(Errc::invalid_argument, "run_block: weights without a valid layer");
    }
    if (x.cols != c.hidden_size || x.rows <= 0 ||
        x.data.size() != static_cast<size_t>(x.rows * x.cols)) {
        return make_error(Errc::invalid_argument,
                          "run_block: activations are not [tokens, hidden_size]");
    }
    const int64_t T = x.rows;
    const int64_t H = c.hidden_size;
    const int64_t d = c.head_dim;
    const int64_t qw = c.q_width();
    const int64_t kvw = c.kv_width();
    const int64_t I = c.intermediate_size;
    // Weights may come from a caller (e.g. a block being quantized): check every size.
    // Biases may be empty (none); the q/k norms must be there exactly for qwen3.
    const struct {
        uint64_t have;
        int64_t n;
        bool optional;
        const char* name;
    } sizes[] = {{w.input_norm.size(), H, false, "input_layernorm"},
                 {w.q.numel(), qw * H, false, "q_proj"},
                 {w.k.numel(), kvw * H, false, "k_proj"},
                 {w.v.numel(), kvw * H, false, "v_proj"},
                 {w.o.numel(), H * qw, false, "o_proj"},
                 {w.q_bias.size(), qw, true, "q_proj.bias"},
                 {w.k_bias.size(), kvw, true, "k_proj.bias"},
                 {w.v_bias.size(), kvw, true, "v_proj.bias"},
                 {w.o_bias.size(), H, true, "o_proj.bias"},
                 {w.q_norm.size(), c.qk_norm ? d : 0, false, "q_norm"},
                 {w.k_norm.size(), c.qk_norm ? d : 0, false, "k_norm"},
                 {w.post_norm.size(), H, false, "post_attention_layernorm"},
                 {w.gate.numel(), I * H, false, "gate_proj"},
                 {w.up.numel(), I * H, false, "up_proj"},
                 {w.down.numel(), H * I, false, "down_proj"}};
    for (const auto& e : sizes) {
        if (static_cast<int64_t>(e.have) != e.n && !(e.optional && e.have == 0)) {
            return make_error(Errc::invalid_argument,
                              "run_block: layer " + std::to_string(layer) + " " + e.name + " has " +
                                  std::to_string(e.have) + " values, expected " +
                                  std::to_string(e.n));
        }
    }
    auto observe = [&](int name, const float* in, int64_t cols) {
        if (observer_) observer_(layer, kLinearSuffix[name], in, T, cols);
    };

    // Attention.
    std::vector<float> hbuf(static_cast<size_t>(T * H));
    rms_norm(x.data.data(), w.input_norm.data(), hbuf.data(), T, H, c.rms_norm_eps);
    std::vector<float> q(static_cast<size_t>(T * qw)), k(static_cast<size_t>(T * kvw)),
        v(static_cast<size_t>(T * kvw));
    observe(0, hbuf.data(), H);
    observe(1, hbuf.data(), H);
    observe(2, hbuf.data(), H);
    project_qkv(c, w, inv_freq_, hbuf.data(), T, x.first_position, q.data(), k.data(), v.data());

    const float* keys = k.data();
    const float* values = v.data();
    int64_t S = T;                        // number of keys
    int64_t key_pos0 = x.first_position;  // position of key 0
    if (cache) {
        const auto n_layers = static_cast<size_t>(c.num_hidden_layers);
        if (cache->keys.size() < n_layers) {
            cache->keys.resize(n_layers);
            cache->values.resize(n_layers);
            cache->lengths.resize(n_layers, 0);
        }
        const auto l = static_cast<size_t>(layer);
        if (cache->lengths[l] != x.first_position) {
            return make_error(Errc::invalid_argument,
                              "run_block: activations start at position " +
                                  std::to_string(x.first_position) + " but the cache of layer " +
                                  std::to_string(layer) + " holds " +
                                  std::to_string(cache->lengths[l]) + " positions");
        }
        cache->keys[l].insert(cache->keys[l].end(), k.begin(), k.end());
        cache->values[l].insert(cache->values[l].end(), v.begin(), v.end());
        cache->lengths[l] += T;
        keys = cache->keys[l].data();
        values = cache->values[l].data();
        S = cache->lengths[l];
        key_pos0 = 0;
    }

    std::vector<float> attn(static_cast<size_t>(T * qw));
    attention(c, q.data(), keys, values, T, S, x.first_position, key_pos0, attn.data());
    observe(3, attn.data(), qw);
    linear(attn.data(), T, qw, w.o, H, w.o_bias, hbuf.data());
    add_into(x.data.data(), hbuf.data(), hbuf.size());

    // SwiGLU MLP.
    rms_norm(x.data.data(), w.post_norm.data(), hbuf.data(), T, H, c.rms_norm_eps);
    std::vector<float> mlp_out(static_cast<size_t>(T * H));
    swiglu(w, hbuf.data(), T, mlp_out.data(), nullptr, observe);
    add_into(x.data.data(), mlp_out.data(), mlp_out.size());
    return {};
}

template <class Observe>
void Llama::swiglu(const BlockWeights& w, const float* xn, int64_t T, float* out, float* act,
                   const Observe& observe) const {
    const int64_t H = config_.hidden_size;
    const int64_t I = config_.intermediate_size;
    std::vector<float> gate(static_cast<size_t>(T * I)), up(static_cast<size_t>(T * I));
    observe(4, xn, H);
    linear(xn, T, H, w.gate, I, {}, gate.data());
    observe(5, xn, H);
    linear(xn, T, H, w.up, I, {}, up.data());
    for (size_t i = 0; i < gate.size(); ++i) {
        const float g = gate[i];
        gate[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
    observe(6, gate.data(), I);
    linear(gate.data(), T, I, w.down, H, {}, out);
    if (act) std::copy(gate.begin(), gate.end(), act);
}

void Llama::norm(const float* x, const std::vector<float>& weight, int64_t rows, float* out) const {
    rms_norm(x, weight.data(), out, rows, config_.hidden_size, config_.rms_norm_eps);
}

void Llama::mlp_sublayer(const BlockWeights& w, const float* xn, int64_t T, float* out,
                         float* act) const {
    const SingleThreadedBlas single_threaded;
    swiglu(w, xn, T, out, act, [](int, const float*, int64_t) {});
}

void Llama::attention_sublayer(const BlockWeights& w, const float* xn, int64_t T,
                               int64_t first_position, float* out, float* attn_in) const {
    const SingleThreadedBlas single_threaded;
    const LlamaConfig& c = config_;
    const int64_t H = c.hidden_size, qw = c.q_width(), kvw = c.kv_width();
    std::vector<float> q(static_cast<size_t>(T * qw)), k(static_cast<size_t>(T * kvw)),
        v(static_cast<size_t>(T * kvw)), attn(static_cast<size_t>(T * qw));
    project_qkv(c, w, inv_freq_, xn, T, first_position, q.data(), k.data(), v.data());
    attention(c, q.data(), k.data(), v.data(), T, T, first_position, first_position, attn.data());
    linear(attn.data(), T, qw, w.o, H, w.o_bias, out);
    if (attn_in) std::copy(attn.begin(), attn.end(), attn_in);
}

Status Llama::run_block(int layer, Activations& x, KvCache* cache) {
    SUTRA_ASSIGN(std::shared_ptr<const BlockWeights> w, block_weights(layer));
    return run_block(*w, x, cache);
}

Status Llama::run_block(int layer, std::span<Activations> xs) {
    SUTRA_ASSIGN(std::shared_ptr<const BlockWeights> w, block_weights(layer));
    for (Activations& x : xs)
        SUTRA_TRY(run_block(*w, x, nullptr));
    return {};
}

Result<std::shared_ptr<const HeadWeights>> Llama::head_weights() {
    if (kept_head_) return kept_head_;
    const int64_t h = config_.hidden_size;
    auto w = std::make_shared<HeadWeights>();
    SUTRA_ASSIGN(w->norm, load_checked("model.norm.weight", dims(h)));
    if (has_lm_head_) {
        SUTRA_ASSIGN(Matrix m, load_matrix_checked("lm_head.weight", dims(config_.vocab_size, h)));
        w->lm_head = std::make_shared<const Matrix>(std::move(m));
    } else if (kept_embedding_) {
        w->lm_head = kept_embedding_;
    } else {
        SUTRA_ASSIGN(Matrix m,
                     load_matrix_checked("model.embed_tokens.weight", dims(config_.vocab_size, h)));
        w->lm_head = std::make_shared<const Matrix>(std::move(m));
        if (options_.keep_weights) kept_embedding_ = w->lm_head;
    }
    std::shared_ptr<const HeadWeights> out = std::move(w);
    if (options_.keep_weights) kept_head_ = out;
    return out;
}

Status Llama::run_head(const HeadWeights& w, const Activations& x,
                       std::vector<float>& logits) const {
    const SingleThreadedBlas single_threaded;
    const int64_t H = config_.hidden_size;
    const int64_t V = config_.vocab_size;
    if (x.cols != H || x.rows <= 0 || x.data.size() != static_cast<size_t>(x.rows * H)) {
        return make_error(Errc::invalid_argument,
                          "head: activations are not [tokens, hidden_size]");
    }
    if (static_cast<int64_t>(w.norm.size()) != H || !w.lm_head ||
        static_cast<int64_t>(w.lm_head->numel()) != V * H) {
        return make_error(Errc::invalid_argument,
                          "head: weights are not model.norm [hidden] and lm_head [vocab, hidden]");
    }
    std::vector<float> h(x.data.size());
    rms_norm(x.data.data(), w.norm.data(), h.data(), x.rows, H, config_.rms_norm_eps);
    if (observer_) observer_(-1, "lm_head", h.data(), x.rows, H);
    logits.resize(static_cast<size_t>(x.rows * V));
    linear(h.data(), x.rows, H, *w.lm_head, V, {}, logits.data());
    return {};
}

Status Llama::head(const Activations& x, std::vector<float>& logits) {
    SUTRA_ASSIGN(std::shared_ptr<const HeadWeights> w, head_weights());
    return run_head(*w, x, logits);
}

Result<std::vector<float>> Llama::forward(std::span<const int32_t> tokens, KvCache* cache) {
    Activations x;
    SUTRA_TRY(embed(tokens, cache ? cache->length() : 0, x));
    for (int l = 0; l < config_.num_hidden_layers; ++l)
        SUTRA_TRY(run_block(l, x, cache));
    std::vector<float> logits;
    SUTRA_TRY(head(x, logits));
    return logits;
}

void Llama::release_weights() {
    for (auto& b : kept_blocks_)
        b.reset();
    kept_head_.reset();
    kept_embedding_.reset();
}

}  // namespace sutra::model
