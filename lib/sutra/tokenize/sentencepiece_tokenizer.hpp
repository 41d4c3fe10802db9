#pragma once
// A SentencePiece model (`tokenizer.model`, `spiece.model`: the protobuf the sentencepiece
// library writes) through Debian's libsentencepiece, as transformers' slow Llama/T5
// tokenizers use it. add_special puts BOS first when the model defines one and
// tokenizer_config.json does not say `"add_bos_token": false`, and EOS last when it says
// `"add_eos_token": true` (transformers' LlamaTokenizer defaults). Text is encoded as
// SentencePiece does; unlike tokenizer.json, text that spells "<s>" stays text.
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "sutra/base/error.hpp"
#include "sutra/tokenize/tokenizer.hpp"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace sutra::tokenize {

struct SentencePieceOptions {
    bool add_bos = true;   // when the model has a BOS piece
    bool add_eos = false;  // when the model has an EOS piece
};

class SentencePieceTokenizer final : public Tokenizer {
  public:
    ~SentencePieceTokenizer() override;
    SentencePieceTokenizer(const SentencePieceTokenizer&) = delete;
    SentencePieceTokenizer& operator=(const SentencePieceTokenizer&) = delete;

    // Parses a serialized model; `what` names it in messages (bad_format when the library
    // refuses it or it holds no pieces).
    static Result<std::unique_ptr<SentencePieceTokenizer>> parse(std::span<const uint8_t> bytes,
                                                                 const std::string& what,
                                                                 SentencePieceOptions options);

    std::vector<int32_t> encode(std::string_view text, bool add_special) const override;
    std::string decode(std::span<const int32_t> ids, bool skip_special) const override;
    int64_t vocab_size() const override;
    std::vector<int32_t> leading_special_ids() const override;
    int32_t token_to_id(std::string_view token) const override;
    std::string describe() const override;

    int32_t bos_id() const;  // -1 when the model has none
    int32_t eos_id() const;

  private:
    SentencePieceTokenizer();
    std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
    SentencePieceOptions options_;
    std::string what_;
};

// Reads `file` (at most 256 MiB) and the add_bos_token / add_eos_token flags of the
// tokenizer_config.json beside it, if there is one.
Result<std::unique_ptr<Tokenizer>> load_sentencepiece_tokenizer(const std::filesystem::path& file);

}  // namespace sutra::tokenize
