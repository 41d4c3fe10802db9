#include "sutra/model/embedding.hpp"

#include <algorithm>

namespace sutra::model {

Status check_tokens(std::span<const int32_t> tokens, int64_t first_position, int64_t vocab,
                    int64_t max_rows) {
    if (tokens.empty() || static_cast<int64_t>(tokens.size()) > max_rows)
        return make_error(Errc::invalid_argument,
                          "embed: need between 1 and " + std::to_string(max_rows) + " tokens");
    if (first_position < 0)
        return make_error(Errc::invalid_argument, "embed: negative first position");
    for (size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return make_error(Errc::invalid_argument,
                              "token " + std::to_string(i) + " has id " +
                                  std::to_string(tokens[i]) + ", not below the vocab_size " +
                                  std::to_string(vocab) +
                                  " of the model (tokens from another tokenizer?)");
    return {};
}

Result<std::vector<float>> gather_rows(const WeightSource& weights, const std::string& name,
                                       std::span<const int32_t> tokens, int64_t width,
                                       const std::vector<float>* kept) {
    std::vector<float> out(tokens.size() * static_cast<size_t>(width));
    if (kept) {
        for (size_t i = 0; i < tokens.size(); ++i)
            std::copy_n(kept->data() + static_cast<int64_t>(tokens[i]) * width, width,
                        out.data() + static_cast<int64_t>(i) * width);
        return out;
    }
    std::vector<uint64_t> unique(tokens.begin(), tokens.end());
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    SUTRA_ASSIGN(std::vector<float> rows, weights.load_rows(name, unique));
    if (rows.size() != unique.size() * static_cast<size_t>(width))
        return make_error(Errc::bad_format, "tensor '" + name + "': gathered " +
                                                std::to_string(rows.size()) + " values for " +
                                                std::to_string(unique.size()) + " rows");
    for (size_t i = 0; i < tokens.size(); ++i) {
        const auto at =
            std::lower_bound(unique.begin(), unique.end(), static_cast<uint64_t>(tokens[i])) -
            unique.begin();
        std::copy_n(rows.data() + at * width, width, out.data() + static_cast<int64_t>(i) * width);
    }
    return out;
}

}  // namespace sutra::model
