#include "sutra/tokenize/llama2c_tokenizer.hpp"

namespace sutra::tokenize {

std::vector<int32_t> Llama2cTokenizer::encode(std::string_view text, bool add_special) const {
    return tok_.encode(text, add_special);
}

std::string Llama2cTokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
    // llama2.c's own decode gives BOS and EOS no text either way; skip_special changes nothing.
    (void)skip_special;
    return tok_.decode(ids);
}

int32_t Llama2cTokenizer::token_to_id(std::string_view token) const {
    for (int32_t id = 0; id < tok_.vocab_size(); ++id)
        if (tok_.piece(id) == token) return id;
    return -1;
}

std::string Llama2cTokenizer::describe() const {
    return file_name_ + " (llama2.c, " + std::to_string(tok_.vocab_size()) + " tokens)";
}

Result<std::unique_ptr<Tokenizer>> load_llama2c_tokenizer(const std::filesystem::path& file,
                                                          int64_t expected_vocab) {
    SUTRA_ASSIGN(model::Tokenizer t, model::Tokenizer::load(file, expected_vocab));
    return std::unique_ptr<Tokenizer>(
        std::make_unique<Llama2cTokenizer>(std::move(t), file.filename().string()));
}

}  // namespace sutra::tokenize
