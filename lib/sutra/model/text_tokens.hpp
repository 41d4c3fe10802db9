#pragma once
// Text into the token ids a model runs on: the model folder's tokenizer (tokenize/discovery,
// or --tokenizer), the id that starts every evaluation and calibration window, and the
// calibration corpus (calib/corpus). Token-id files bypass the tokenizer.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/llama/llama_config.hpp"
#include "sutra/tokenize/discovery.hpp"

namespace sutra::model {

// What the text side needs of a model: its vocabulary and special ids (config.json's).
struct VocabInfo {
    int64_t vocab_size = 0;
    int64_t bos_token_id = -1;
    std::vector<int64_t> eos_token_ids;
    // false for a family that starts from its initial state with no window-start token
    // (ModelInfo::bos_id -1: RWKV): window_start is then -1.
    bool starts_with_bos = true;
    VocabInfo() = default;
    VocabInfo(const LlamaConfig& c)  // NOLINT: implicit on purpose
        : vocab_size(c.vocab_size), bos_token_id(c.bos_token_id), eos_token_ids(c.eos_token_ids) {}
    VocabInfo(const ModelInfo& m)  // NOLINT: implicit on purpose
        : vocab_size(m.vocab_size), bos_token_id(m.bos_id), starts_with_bos(m.bos_id >= 0) {
        eos_token_ids.assign(m.eos_ids.begin(), m.eos_ids.end());
    }
};

struct ModelTokenizer {
    tokenize::LoadedTokenizer loaded;
    // The id each window starts with: the special token the tokenizer itself puts before a
    // text (BOS for Llama and Mistral), else config.json's bos_token_id (Qwen:
    // <|endoftext|>), else generation_config.json's, else the first EOS id; bad_format when
    // the model names none of these.
    int32_t window_start = -1;
    // End-of-sequence ids as transformers' generate() uses them: generation_config.json's
    // eos_token_id (one id or a list), else config.json's.
    std::vector<int32_t> eos;
};

Result<ModelTokenizer> open_model_tokenizer(const std::filesystem::path& model_dir,
                                            const std::optional<std::filesystem::path>& tokenizer,
                                            const VocabInfo& config);

// Where text comes from. Exactly one of `texts` (non-empty) and `tokens_file`.
struct TextInput {
    std::vector<std::filesystem::path> texts;
    std::optional<std::filesystem::path> tokens_file;
    std::optional<std::filesystem::path> tokenizer;  // --tokenizer override
};

struct TextTokens {
    std::vector<int32_t> tokens;  // text tokens, no window-start token
    int32_t window_start = -1;    // from the tokenizer; -1 with a token-id file
    std::string tokenizer;        // its description; "" with a token-id file
    int64_t documents = 0;        // calibration: documents in the corpus / used
    int64_t documents_used = 0;
    int64_t tokens_read = 0;  // tokens of the documents read (before window sampling)
};

// Evaluation text: one file encoded whole (no special tokens), as the evaluation protocol
// scores it; at most 2 GiB.
Result<TextTokens> load_eval_tokens(const std::filesystem::path& model_dir, const VocabInfo& config,
                                    const TextInput& in);

// Calibration text: the corpus reader's documents and windows (calib/corpus.hpp) for windows
// of seq_len and a budget of max_tokens text tokens (0 = all), documents joined by the
// window-start token.
Result<TextTokens> load_calib_tokens(const std::filesystem::path& model_dir,
                                     const VocabInfo& config, const TextInput& in, int64_t seq_len,
                                     int64_t max_tokens, uint64_t seed = 42);

}  // namespace sutra::model
