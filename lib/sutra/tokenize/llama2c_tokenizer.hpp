#pragma once
// The llama2.c tokenizer (model/tokenizer.hpp: tok512.bin, tokenizer.bin) behind the common
// Tokenizer interface: add_special puts BOS (id 1) first, as llama2.c's encode(bos=1) does.
#include <memory>

#include "sutra/model/tokenizer.hpp"
#include "sutra/tokenize/tokenizer.hpp"

namespace sutra::tokenize {

class Llama2cTokenizer final : public Tokenizer {
  public:
    Llama2cTokenizer(model::Tokenizer tok, std::string file_name)
        : tok_(std::move(tok)), file_name_(std::move(file_name)) {}

    std::vector<int32_t> encode(std::string_view text, bool add_special) const override;
    std::string decode(std::span<const int32_t> ids, bool skip_special) const override;
    int64_t vocab_size() const override { return tok_.vocab_size(); }
    std::vector<int32_t> leading_special_ids() const override { return {model::Tokenizer::kBos}; }
    int32_t token_to_id(std::string_view token) const override;
    std::string describe() const override;

  private:
    model::Tokenizer tok_;
    std::string file_name_;
};

// Loads a llama2.c tokenizer file; expected_vocab > 0: its record count must equal it.
Result<std::unique_ptr<Tokenizer>> load_llama2c_tokenizer(const std::filesystem::path& file,
                                                          int64_t expected_vocab);

}  // namespace sutra::tokenize
