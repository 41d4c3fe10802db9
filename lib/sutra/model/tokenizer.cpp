#include "sutra/model/tokenizer.hpp"

#include <cmath>
#include <cstring>
#include <queue>

#include "sutra/io/file.hpp"

namespace sutra::model {
namespace {

constexpr int32_t kMaxTokenLength = 1 << 16;
constexpr uint64_t kMaxTokenizerBytes = uint64_t{1} << 28;
constexpr uint64_t kMaxTokenFileBytes = uint64_t{1} << 30;
constexpr int64_t kMaxVocab = int64_t{1} << 24;
// llama2.c starts its best-score search at -1e10: pairs scoring no more are never merged.
constexpr float kNoMergeScore = -1e10f;

int32_t read_i32(const uint8_t* p) {
    uint32_t u = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
                 (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
    int32_t v;
    std::memcpy(&v, &u, sizeof v);
    return v;
}

float read_f32(const uint8_t* p) {
    const int32_t i = read_i32(p);
    float f;
    std::memcpy(&f, &i, sizeof f);
    return f;
}

std::string byte_piece(unsigned b) {
    static const char* hex = "0123456789ABCDEF";
    return std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

Result<std::vector<uint8_t>> read_small_file(const std::filesystem::path& file, uint64_t limit) {
    SUTRA_ASSIGN(io::InputFile f, io::InputFile::open(file));
    if (f.size() > limit) {
        return make_error(Errc::too_large, file.string() + ": " + std::to_string(f.size()) +
                                               " bytes, more than the limit of " +
                                               std::to_string(limit));
    }
    std::vector<uint8_t> bytes(f.size());
    SUTRA_TRY(f.read_at(0, bytes));
    return bytes;
}

}  // namespace

Result<Tokenizer> Tokenizer::parse(std::span<const uint8_t> bytes, const std::string& what,
                                   int64_t expected_vocab) {
    auto bad = [&](uint64_t offset, const std::string& msg) {
        return make_error(Errc::bad_format, what + ": at byte " + std::to_string(offset) + ": " +
                                                msg + " (not a valid llama2.c tokenizer file)");
    };
    if (bytes.size() < 4) return bad(0, "file too short for the max_token_length header");
    Tokenizer t;
    t.max_token_length_ = read_i32(bytes.data());
    if (t.max_token_length_ < 1 || t.max_token_length_ > kMaxTokenLength) {
        return bad(0, "max_token_length " + std::to_string(t.max_token_length_) +
                          " is outside [1, " + std::to_string(kMaxTokenLength) + "]");
    }
    uint64_t off = 4;
    while (off < bytes.size()) {
        const auto id = static_cast<int64_t>(t.pieces_.size());
        if (id >= kMaxVocab) return bad(off, "more than " + std::to_string(kMaxVocab) + " tokens");
        if (bytes.size() - off < 8) {
            return bad(off, "token " + std::to_string(id) + " is truncated (record header)");
        }
        const float score = read_f32(bytes.data() + off);
        const int32_t len = read_i32(bytes.data() + off + 4);
        if (!std::isfinite(score)) {
            return bad(off, "token " + std::to_string(id) + " has a non-finite score");
        }
        if (len < 0 || len > t.max_token_length_) {
            return bad(off + 4, "token " + std::to_string(id) + " has length " +
                                    std::to_string(len) + ", outside [0, max_token_length " +
                                    std::to_string(t.max_token_length_) + "]");
        }
        off += 8;
        if (bytes.size() - off < static_cast<uint64_t>(len)) {
            return bad(off, "token " + std::to_string(id) + " is truncated (" +
                                std::to_string(len) + " bytes announced, " +
                                std::to_string(bytes.size() - off) + " left)");
        }
        t.pieces_.emplace_back(reinterpret_cast<const char*>(bytes.data() + off),
                               static_cast<size_t>(len));
        t.scores_.push_back(score);
        off += static_cast<uint64_t>(len);
    }
    const auto n = static_cast<int64_t>(t.pieces_.size());
    if (expected_vocab > 0 && n != expected_vocab) {
        return make_error(Errc::bad_format,
                          what + ": holds " + std::to_string(n) +
                              " tokens but the model's "
                              "vocab_size is " +
                              std::to_string(expected_vocab) +
                              " (truncated file, or the tokenizer of another model)");
    }
    if (n < kFirstByte + 256) {
        return make_error(Errc::bad_format,
                          what + ": holds " + std::to_string(n) +
                              " tokens; a llama2.c tokenizer has at least 259 (<unk>, BOS, "
                              "EOS and 256 byte tokens)");
    }
    for (unsigned b = 0; b < 256; ++b) {
        if (t.pieces_[kFirstByte + b] != byte_piece(b)) {
            return make_error(Errc::bad_format, what + ": token " + std::to_string(kFirstByte + b) +
                                                    " should be the byte token " + byte_piece(b));
        }
    }
    t.index_.reserve(t.pieces_.size());
    for (size_t i = 0; i < t.pieces_.size(); ++i) {
        t.index_.emplace(t.pieces_[i], static_cast<int32_t>(i));  // keeps the lowest id
    }
    return t;
}

Result<Tokenizer> Tokenizer::load(const std::filesystem::path& file, int64_t expected_vocab) {
    SUTRA_ASSIGN(std::vector<uint8_t> bytes, read_small_file(file, kMaxTokenizerBytes));
    return parse(bytes, file.string(), expected_vocab);
}

Result<Tokenizer> Tokenizer::load_for_model(const std::filesystem::path& dir,
                                            int64_t expected_vocab) {
    std::error_code ec;
    for (const char* name : {"tok512.bin", "tokenizer.bin"}) {
        if (std::filesystem::is_regular_file(dir / name, ec)) {
            return load(dir / name, expected_vocab);
        }
    }
    return make_error(Errc::not_found,
                      dir.string() +
                          ": no llama2.c tokenizer (tok512.bin or tokenizer.bin) in the model "
                          "folder; pass --tokens-file FILE with the text as whitespace-separated "
                          "token ids instead");
}

int32_t Tokenizer::lookup(std::string_view s) const {
    auto it = index_.find(std::string(s));
    return it == index_.end() ? -1 : it->second;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos) const {
    std::vector<int32_t> ids;
    ids.reserve(text.size() + 2);
    if (add_bos) ids.push_back(kBos);
    if (!text.empty()) {
        const int32_t space = lookup(" ");
        ids.push_back(space >= 0 ? space : kFirstByte + ' ');
    }
    // One token per UTF-8 character: a byte that is not a continuation byte starts a new
    // character, which takes at most three following continuation bytes.
    std::string buf;
    for (size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if ((c & 0xC0) != 0x80) buf.clear();
        buf.push_back(static_cast<char>(c));
        const bool next_is_cont =
            i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80;
        if (next_is_cont && buf.size() < 4) continue;
        const int32_t id = lookup(buf);
        if (id >= 0) {
            ids.push_back(id);
        } else {
            for (char b : buf)
                ids.push_back(kFirstByte + static_cast<unsigned char>(b));
        }
        buf.clear();
    }

    // Merging. Symbols keep their original index; a merge keeps the left one and unlinks the
    // right one. The queue holds every adjacent pair whose concatenation is in the vocabulary,
    // best (highest score, then lowest index) first; entries made stale by earlier merges are
    // recognised by their ids no longer matching and skipped.
    const auto n = static_cast<int32_t>(ids.size());
    std::vector<int32_t> next(static_cast<size_t>(n)), prev(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i) {
        next[static_cast<size_t>(i)] = i + 1 < n ? i + 1 : -1;
        prev[static_cast<size_t>(i)] = i - 1;
    }
    struct Cand {
        float score;
        int32_t left;
        int32_t left_id;
        int32_t right_id;
        int32_t merged;
    };
    auto worse = [](const Cand& a, const Cand& b) {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> queue(worse);
    auto consider = [&](int32_t left) {
        if (left < 0) return;
        const int32_t right = next[static_cast<size_t>(left)];
        if (right < 0) return;
        const int32_t a = ids[static_cast<size_t>(left)];
        const int32_t b = ids[static_cast<size_t>(right)];
        const int32_t merged = lookup(piece(a) + piece(b));
        if (merged < 0 || !(score(merged) > kNoMergeScore)) return;
        queue.push(Cand{score(merged), left, a, b, merged});
    };
    for (int32_t i = 0; i + 1 < n; ++i)
        consider(i);
    while (!queue.empty()) {
        const Cand c = queue.top();
        queue.pop();
        const auto l = static_cast<size_t>(c.left);
        if (ids[l] != c.left_id) continue;  // left symbol was merged since
        const int32_t r = next[l];
        if (r < 0 || ids[static_cast<size_t>(r)] != c.right_id) continue;
        ids[l] = c.merged;
        ids[static_cast<size_t>(r)] = -1;
        const int32_t rr = next[static_cast<size_t>(r)];
        next[l] = rr;
        if (rr >= 0) prev[static_cast<size_t>(rr)] = c.left;
        consider(prev[l]);
        consider(c.left);
    }
    std::vector<int32_t> out;
    out.reserve(static_cast<size_t>(n));
    for (int32_t i = n > 0 ? 0 : -1; i >= 0; i = next[static_cast<size_t>(i)]) {
        out.push_back(ids[static_cast<size_t>(i)]);
    }
    return out;
}

std::string Tokenizer::decode_piece(int32_t prev, int32_t token) const {
    if (token < 0 || token >= vocab_size()) return {};
    std::string_view p = piece(token);
    if (prev == kBos && !p.empty() && p.front() == ' ') p.remove_prefix(1);
    if (p.size() == 6 && p.substr(0, 3) == "<0x" && p[5] == '>') {
        const int hi = hex_value(p[3]);
        const int lo = hex_value(p[4]);
        if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
    }
    return std::string(p);
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
    std::string out;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] == kBos || ids[i] == kEos) continue;
        out += decode_piece(i > 0 ? ids[i - 1] : -1, ids[i]);
    }
    return out;
}

Result<std::vector<int32_t>> parse_token_ids(std::string_view text, int64_t vocab_size,
                                             const std::string& what) {
    std::vector<int32_t> ids;
    size_t i = 0;
    int64_t line = 1;
    auto is_space = [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    };
    while (i < text.size()) {
        const char c = text[i];
        if (c == '\n') ++line;
        if (is_space(c)) {
            ++i;
            continue;
        }
        if (c == '#') {
            while (i < text.size() && text[i] != '\n')
                ++i;
            continue;
        }
        const size_t start = i;
        while (i < text.size() && !is_space(text[i]) && text[i] != '#')
            ++i;
        const std::string_view word = text.substr(start, i - start);
        int64_t v = 0;
        bool ok = !word.empty() && word.size() <= 10;
        for (char d : word) {
            if (d < '0' || d > '9') {
                ok = false;
                break;
            }
            v = v * 10 + (d - '0');
        }
        if (!ok) {
            return make_error(Errc::bad_format,
                              what + ": line " + std::to_string(line) + ": \"" +
                                  std::string(word.substr(0, 40)) +
                                  "\" is not a token id (expected non-negative decimal integers "
                                  "separated by whitespace)");
        }
        if (v >= vocab_size) {
            return make_error(Errc::bad_format, what + ": line " + std::to_string(line) +
                                                    ": token id " + std::to_string(v) +
                                                    " is not below the vocabulary size " +
                                                    std::to_string(vocab_size));
        }
        ids.push_back(static_cast<int32_t>(v));
    }
    return ids;
}

Result<std::vector<int32_t>> read_token_ids_file(const std::filesystem::path& file,
                                                 int64_t vocab_size) {
    SUTRA_ASSIGN(std::vector<uint8_t> bytes, read_small_file(file, kMaxTokenFileBytes));
    return parse_token_ids(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), vocab_size,
        file.string());
}

}  // namespace sutra::model
