#pragma once
// The parts of a tokenizer.json pipeline, as the Hugging Face `tokenizers` crate runs them:
//
//   text --added tokens (not normalized)--> normalizer --added tokens (normalized)-->
//        pre-tokenizer --> model --> post-processor        (encode)
//   ids --> tokens --> decoder --> text                                  (decode)
//
// A Piece is a stretch of the input on its way through: text still to be tokenized, or an
// added token already matched (id >= 0), which no later stage changes. Each component kind
// has one file (normalizer.cpp, pre_tokenizer.cpp, model_bpe.cpp, model_unigram.cpp,
// post_processor.cpp, decoder.cpp) with a factory that reads its JSON object from
// tokenizer.json; unknown "type"s are refused with Errc::unsupported naming the type and
// what is supported.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sutra/base/error.hpp"

namespace sutra::tokenize {

struct Piece {
    std::string text;    // UTF-8, normalized once the normalizer has run
    int32_t id = -1;     // >= 0: an added token, passed through untouched
    bool first = false;  // begins at offset 0 of the original input (Metaspace "first")
};

class Normalizer {
  public:
    virtual ~Normalizer() = default;
    // Normalizes one piece of text in place.
    virtual void normalize(std::string& text) const = 0;
};

class PreTokenizer {
  public:
    virtual ~PreTokenizer() = default;
    // Splits every text piece (id < 0) into smaller pieces, in order; pieces with id >= 0
    // are kept as they are. Empty pieces are dropped. A sub-piece keeps `first` only when
    // its parent had it and it begins at the parent's first byte.
    virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

class Model {
  public:
    virtual ~Model() = default;
    // Appends the ids of one pre-tokenized piece.
    virtual void tokenize(std::string_view piece, std::vector<int32_t>& ids) const = 0;
    virtual int32_t token_to_id(std::string_view token) const = 0;  // -1 when absent
    virtual const std::string* id_to_token(int32_t id) const = 0;   // nullptr when absent
    virtual int64_t vocab_size() const = 0;                         // largest id + 1
    virtual std::string kind() const = 0;                           // "BPE", "Unigram"
};

class PostProcessor {
  public:
    virtual ~PostProcessor() = default;
    // Adds the special tokens of a single sequence (add_special = true) around `ids`.
    virtual void process(std::vector<int32_t>& ids, bool add_special) const = 0;
    // The ids process() puts before the sequence.
    virtual std::vector<int32_t> leading_ids() const = 0;
};

class Decoder {
  public:
    virtual ~Decoder() = default;
    // Rewrites the token strings in place (the crate's decode_chain); the decoded text is
    // their concatenation.
    virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// Factories: `j` is the component's JSON object (never null here), `what` names it in
// messages ("tokenizer.json: normalizer.normalizers[1]").
Result<std::unique_ptr<Normalizer>> make_normalizer(const nlohmann::json& j,
                                                    const std::string& what);
Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer(const nlohmann::json& j,
                                                         const std::string& what);
Result<std::unique_ptr<Model>> make_model(const nlohmann::json& j, const std::string& what);
Result<std::unique_ptr<PostProcessor>> make_post_processor(const nlohmann::json& j,
                                                           const std::string& what);
Result<std::unique_ptr<Decoder>> make_decoder(const nlohmann::json& j, const std::string& what);

}  // namespace sutra::tokenize
