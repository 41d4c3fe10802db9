#pragma once
// What an RWKV checkpoint is: its naming, its version and its sizes, read from the tensor names
// and shapes (rwkv.cpp / BlinkDL files have no config.json) and checked against config.json
// when there is one (Hugging Face RwkvForCausalLM).
//
// Version from the tensors of block 0 (rwkv.cpp naming, "blocks.0.att.*"):
//   x_rwkvag                         -> 7    (rwkv.cpp's fused x_r..x_g; heads from r_k [H, S])
//   time_maa_x                       -> 6    (heads from time_faaaa [H, S, 1])
//   ln_x + gate + time_faaaa         -> 5.2  (heads from time_faaaa [H, S, 1] or [H, S])
//   time_first + time_decay + mix_k  -> 4
// Hugging Face naming ("rwkv.blocks.0.attention.*") is RWKV-4 only. Sizes: emb [vocab, C],
// ffn.key [F, C], the low-rank matrices' ranks from their shapes; every block must agree.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model::rwkv {

enum class Naming {
    rwkv_cpp,      // emb.weight, blocks.N.att.key.weight, blocks.N.ffn.*, ln_out, head
    hugging_face,  // rwkv.embeddings.weight, rwkv.blocks.N.attention.*, .feed_forward.*, head
};

enum class Version { v4, v5_2, v6, v7 };

struct RwkvConfig {
    Naming naming = Naming::rwkv_cpp;
    Version version = Version::v4;
    // time_decay is the trained value, not rwkv.cpp's converted one: always in Hugging Face
    // files; in rwkv.cpp naming, a BlinkDL .pth's tensors (v4: time_mix_* of shape [1, 1, C];
    // v5.2: time_decay [H, S]). -exp (v4) / exp(-exp) (v5.2) is then applied at load time, as
    // transformers or rwkv.cpp's converter do.
    bool raw_decay = false;
    int64_t hidden = 0;  // C
    int64_t layers = 0;
    int64_t vocab = 0;
    int64_t ffn = 0;        // F, channel-mix width
    int64_t heads = 0;      // H (v5.2+; H * S = C)
    int64_t head_size = 0;  // S
    // Low-rank widths: v6 token-shift mix (time_maa_w1 is [5 * mix_rank, C]) and decay; v7
    // decay (w), in-context rate (a), value residual (v, blocks 1..), gate (g).
    int64_t mix_rank = 0, decay_rank = 0;
    int64_t w_rank = 0, a_rank = 0, v_rank = 0, g_rank = 0;
    double ln_eps = 1e-5;      // ln0, ln1, ln2 (config.json layer_norm_epsilon)
    double ln_out_eps = 1e-5;  // ln_out (transformers: LayerNorm's default)
    double group_norm_eps = 1e-5;
    // Hugging Face naming only: attention.output and feed_forward.value of block b act divided
    // by 2^(b / rescale_every), the stream is halved after every rescale_every-th block
    // (transformers at inference); 0: never.
    int64_t rescale_every = 0;
    bool tied_head = false;  // no head.weight; the embedding is the head (tie_word_embeddings)
    std::vector<int32_t> eos_ids;

    std::string variant() const;  // "4", "5.2", "6", "7"
};

// The checkpoint's tensors (and config.json, when not null) as an RwkvConfig. not_found for a
// missing tensor the version needs to be told, bad_format for shapes that do not fit together or
// a config.json that disagrees with the tensors, unsupported for RWKV versions and layouts sutra
// does not run (v5.0/v5.1, unconverted v6/v7 .pth layouts).
Result<RwkvConfig> detect_config(const nlohmann::json* config, const WeightSource& weights);

std::string shape_str(const std::vector<uint64_t>& shape);

}  // namespace sutra::model::rwkv
