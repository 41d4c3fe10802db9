#pragma once
// Tensor roles recognised from Hugging Face (and RWKV) tensor names.
#include <optional>
#include <string_view>

namespace sutra::plan {

enum class Role { embedding, attention, feedforward, output, other };

std::string_view role_name(Role r);
std::optional<Role> parse_role(std::string_view name);
// embedding: embed_tokens, wte, word_embeddings, tok_embeddings, emb.; output: lm_head,
// output.weight, head.weight, embed_out; attention: self_attn, attn, attention, att.;
// feedforward: mlp, feed_forward, ffn; everything else: other.
Role classify_tensor(std::string_view name);

// Glob match on the whole name: '*' matches any run of characters (dots included), '?' one.
bool glob_match(std::string_view pattern, std::string_view name);

}  // namespace sutra::plan
