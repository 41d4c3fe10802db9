#pragma once
// The llama2.c tokenizer (`tok512.bin`, `tokenizer.bin`) and pre-tokenized input.
//
// File format (little-endian): int32 max_token_length, then for every token id in order
// {float32 score, int32 length, `length` bytes}. The vocabulary size is not stored; it is
// the number of records up to the end of the file. Ids 0, 1, 2 are <unk>, BOS, EOS; ids
// 3..258 are the byte tokens "<0x00>".."<0xFF>".
//
// Encoding follows llama2.c `run.c` encode() exactly: optional BOS, a dummy " " before
// non-empty text, one token per UTF-8 character (a lead byte and up to three continuation
// bytes) when that string is in the vocabulary and otherwise one byte token per byte, then
// repeatedly merge the adjacent pair whose concatenation is a vocabulary entry with the
// highest score (the leftmost pair on ties; BOS takes part in the merging as in llama2.c).
// The naive loop is O(n^2); this implementation keeps the candidate pairs in a priority queue
// ordered by (score, position), which picks the same pair at every step, so any text,
// including a whole 200 KB evaluation file, is encoded in one call in O(n log n) with the
// same result as the naive loop.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sutra/base/error.hpp"

namespace sutra::model {

class Tokenizer {
  public:
    static constexpr int32_t kBos = 1;
    static constexpr int32_t kEos = 2;
    static constexpr int32_t kFirstByte = 3;  // byte b has id b + 3

    // Parses a tokenizer file image. expected_vocab > 0: the record count must equal it.
    // Errors (bad_format, naming `what` and the offset): truncated records, a length that is
    // negative or longer than max_token_length or the rest of the file, a non-finite score,
    // fewer than 259 tokens, byte tokens 3..258 not spelled "<0xNN>".
    static Result<Tokenizer> parse(std::span<const uint8_t> bytes, const std::string& what,
                                   int64_t expected_vocab = 0);
    static Result<Tokenizer> load(const std::filesystem::path& file, int64_t expected_vocab = 0);
    // The tokenizer of a model folder: `dir`/tok512.bin, else `dir`/tokenizer.bin. Without
    // either, not_found with a message telling to pass `--tokens-file FILE` (token ids) instead.
    static Result<Tokenizer> load_for_model(const std::filesystem::path& dir,
                                            int64_t expected_vocab = 0);

    int32_t vocab_size() const { return static_cast<int32_t>(pieces_.size()); }
    const std::string& piece(int32_t id) const { return pieces_[static_cast<size_t>(id)]; }
    float score(int32_t id) const { return scores_[static_cast<size_t>(id)]; }

    // Token ids for `text` (see the file comment). Never fails: unknown bytes use byte tokens.
    std::vector<int32_t> encode(std::string_view text, bool add_bos) const;

    // The bytes of `token` as printed after `prev` (llama2.c decode(): a leading space is
    // dropped right after BOS; "<0xNN>" gives the raw byte). Ids out of range give "".
    std::string decode_piece(int32_t prev, int32_t token) const;
    // Concatenated pieces of `ids`; BOS and EOS themselves produce no text.
    std::string decode(std::span<const int32_t> ids) const;

  private:
    int32_t lookup(std::string_view s) const;

    std::vector<std::string> pieces_;
    std::vector<float> scores_;
    std::unordered_map<std::string, int32_t> index_;  // piece -> lowest id spelling it
    int32_t max_token_length_ = 0;
};

// Pre-tokenized input: decimal token ids separated by whitespace; '#' starts a comment that
// runs to the end of the line. Every id must be in [0, vocab_size). `what` names the source
// in messages (bad_format with the position of the offending token).
Result<std::vector<int32_t>> parse_token_ids(std::string_view text, int64_t vocab_size,
                                             const std::string& what);
Result<std::vector<int32_t>> read_token_ids_file(const std::filesystem::path& file,
                                                 int64_t vocab_size);

}  // namespace sutra::model
