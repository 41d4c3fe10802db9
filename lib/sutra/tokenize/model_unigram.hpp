#pragma once
// The Unigram model of tokenizer.json, as the `tokenizers` crate's models/unigram runs it
// (SentencePiece's unigram_model.cc): the segmentation of a piece with the highest sum of
// scores (Viterbi over byte positions, ties to the earlier-found path), where a character no
// piece starts with costs min_score - 10 as unk_id; adjacent unknown characters are fused
// into one token, which becomes its bytes' "<0xNN>" pieces with byte_fallback (when all
// exist) or unk_id. vocab is a list of [piece, score]; ids are the list positions. Where the
// crate fails an encode (unk_id is null and a character needs it), sutra drops the character.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "sutra/base/error.hpp"
#include "sutra/tokenize/pipeline.hpp"

namespace sutra::tokenize {

// `j` is the "model" object (type "Unigram"); `what` its path ("tokenizer.json: model").
Result<std::unique_ptr<Model>> make_unigram_model(const nlohmann::json& j, const std::string& what);

}  // namespace sutra::tokenize
