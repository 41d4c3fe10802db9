#pragma once
// Which ggml type each tensor of a GGUF export gets (format/GGUF.md, "Tensor types of an export"),
// following llama.cpp's llama_tensor_get_type (src/llama-quant.cpp) for the types it names:
//
//   1-D tensors (norms, biases, rope_freqs)  always F32
//   F32, F16                                every 2-D tensor in that type
//   Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q5_K Q6_K  2-D tensors in that type, except the output
//                                            head (output.weight, or token_embd.weight when
//                                            the embedding is tied): Q6_K, or Q8_0 when its
//                                            width is not whole blocks of the requested type
//                                            (or the type is Q8_0)
//   Q4_K_M / Q5_K_M                          Q4_K / Q5_K, the head as above, and Q6_K for
//                                            attn_v and ffn_down of the layers where
//                                            use_more_bits(i, n): i < n/8, i >= 7n/8, or
//                                            (i - n/8) % 3 == 2
//   "" (default)                             the type nearest to how the .qbin stores each
//                                            tensor: 8-bit -> Q8_0, 3- and 4-bit -> Q4_1
//                                            (a scale and a minimum per 32 values, the
//                                            .qbin's scale and zero point per group), raw
//                                            F16 -> F16, raw F32 / BF16 -> F32
//
// Then, when a row is not whole blocks of the chosen type, llama.cpp's fallback: Q4_K ->
// Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, and a 32-block type that still does not fit -> F16; the
// choice carries a note saying so.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/quant/ggml_types.hpp"

namespace sutra::format {

enum class GgufMix { none, q4_k_m, q5_k_m };

struct GgufTypeRequest {
    bool by_qbin = true;  // "": per tensor from the .qbin
    quant::GgmlType base = quant::GgmlType::F32;
    GgufMix mix = GgufMix::none;
    std::string name;  // as the user spelled it, canonical case ("Q4_K_M")
};

// "" | a type of quant/ggml_types.hpp | "Q4_K_M" | "Q5_K_M" (case-insensitive; did-you-mean
// otherwise).
Result<GgufTypeRequest> parse_gguf_type_request(const std::string& text);

// llama.cpp's general.file_type (enum llama_ftype) for the request; for the default the most
// common type chosen (7 for Q8_0, 3 for Q4_1, ...).
uint32_t gguf_file_type(const GgufTypeRequest& req, quant::GgmlType most_common);

struct GgufTensorFacts {
    std::string name;   // llama.cpp name
    int block = -1;     // blk.N
    uint64_t cols = 0;  // row width (ggml dims[0])
    bool two_d = false;
    bool is_head = false;  // output.weight, or token_embd.weight when no output.weight
    // For the default request: how the .qbin stores it.
    int qbin_bits = 0;  // 0 = raw
    bool raw_f16 = false;
};

struct GgufTypeChoice {
    quant::GgmlType type = quant::GgmlType::F32;
    std::string note;  // "fallback Q4_K -> Q5_0: 64 columns are not whole blocks of 256"
};

// n_layers: the model's block count (for use_more_bits).
GgufTypeChoice choose_gguf_type(const GgufTypeRequest& req, const GgufTensorFacts& t, int n_layers);

}  // namespace sutra::format
