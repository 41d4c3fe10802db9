#pragma once
// The token checks and the embedding-row gather every family's embed() shares.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model {

// invalid_argument unless 1 <= tokens.size() <= max_rows, first_position >= 0 and every id is
// in [0, vocab) (the message names the first bad one's index and id).
Status check_tokens(std::span<const int32_t> tokens, int64_t first_position, int64_t vocab,
                    int64_t max_rows);

// The rows of the table `name` [*, width] for `tokens`, concatenated in token order: copied
// from `kept` when given (the whole table), else read from `weights` with each distinct row
// read once. bad_format when the source gives the wrong number of values.
Result<std::vector<float>> gather_rows(const WeightSource& weights, const std::string& name,
                                       std::span<const int32_t> tokens, int64_t width,
                                       const std::vector<float>* kept);

}  // namespace sutra::model
