#pragma once
// Tensor names of the two namings. Code inside model/rwkv names tensors the rwkv.cpp way
// ("att.key.weight", "ffn.time_mix_k", "ln0.weight" inside a block; "emb.weight",
// "ln_out.weight", "head.weight" outside); Names turns them into the checkpoint's names:
//   rwkv.cpp:      blocks.3.att.key.weight
//   Hugging Face:  rwkv.blocks.3.attention.key.weight   (att -> attention, ffn -> feed_forward,
//                  ln0 -> pre_ln, time_mix_k/v/r -> time_mix_key/value/receptance;
//                  emb -> rwkv.embeddings, ln_out -> rwkv.ln_out, head stays head)
#include <string>
#include <string_view>

#include "sutra/model/rwkv/rwkv_config.hpp"

namespace sutra::model::rwkv {

class Names {
  public:
    explicit Names(Naming naming) : naming_(naming) {}

    // The in-block name in the checkpoint's naming: "att.key" -> "attention.key".
    std::string in_block(std::string_view rwkv_cpp_name) const;
    // The full name of a block tensor: (3, "att.key.weight") -> "blocks.3.att.key.weight".
    std::string block(int layer, std::string_view rwkv_cpp_name) const;
    // The full name of a tensor outside the blocks ("emb.weight", "ln_out.bias", "head.weight").
    std::string global(std::string_view rwkv_cpp_name) const;

  private:
    Naming naming_;
};

}  // namespace sutra::model::rwkv
