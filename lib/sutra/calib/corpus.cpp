#include "sutra/calib/corpus.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "sutra/io/file.hpp"

namespace sutra::calib {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kBlock = uint64_t{1} << 20;            // read size of the index pass
constexpr uint64_t kWholeFileLimit = uint64_t{64} << 20;  // plain text up to this: one doc
constexpr uint64_t kPlainPiece = uint64_t{1} << 20;       // larger ones: pieces of ~1 MiB
constexpr uint64_t kMaxLine = uint64_t{64} << 20;         // a JSON line or a text piece
constexpr uint64_t kReadAllLimit = uint64_t{32} << 20;    // all documents, in order

struct Doc {
    uint32_t file = 0;
    uint64_t offset = 0;
    uint64_t length = 0;
};

struct Source {
    io::InputFile file;
    bool json_lines = false;
};

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

Result<bool> looks_like_json_lines(const io::InputFile& f) {
    const std::string ext = f.path().extension().string();
    if (ext == ".jsonl" || ext == ".ndjson") return true;
    std::string head(static_cast<size_t>(std::min<uint64_t>(f.size(), 4096)), '\0');
    SUTRA_TRY(
        f.read_at(0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(head.data()), head.size())));
    for (char c : head)
        if (!is_blank(c)) return c == '{';
    return false;
}

// Splits file `index` into documents: lines (JSON Lines, blank lines skipped) or, for plain
// text, the whole file or pieces ending at a newline once they reach kPlainPiece.
Status index_documents(const Source& s, uint32_t index, std::vector<Doc>& docs) {
    const uint64_t size = s.file.size();
    if (!s.json_lines && size <= kWholeFileLimit) {
        if (size > 0) docs.push_back({index, 0, size});
        return {};
    }
    std::vector<uint8_t> buf;
    uint64_t start = 0;     // start of the current document
    bool has_text = false;  // the current JSON line holds a non-blank byte
    for (uint64_t pos = 0; pos < size; pos += kBlock) {
        buf.resize(static_cast<size_t>(std::min(kBlock, size - pos)));
        SUTRA_TRY(s.file.read_at(pos, buf));
        for (size_t i = 0; i < buf.size(); ++i) {
            const char c = static_cast<char>(buf[i]);
            const uint64_t at = pos + i;
            if (c != '\n') {
                has_text = has_text || !is_blank(c);
                if (at + 1 - start > kMaxLine)
                    return make_error(Errc::too_large, s.file.path().string() +
                                                           ": a line longer than " +
                                                           std::to_string(kMaxLine >> 20) +
                                                           " MiB at byte " + std::to_string(start) +
                                                           "; split the text into shorter lines");
                continue;
            }
            if (s.json_lines) {
                if (has_text) docs.push_back({index, start, at - start});
                start = at + 1;
                has_text = false;
            } else if (at + 1 - start >= kPlainPiece) {
                docs.push_back({index, start, at + 1 - start});
                start = at + 1;
            }
        }
    }
    if (start < size && (has_text || !s.json_lines)) docs.push_back({index, start, size - start});
    return {};
}

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Line number (1-based) of byte `offset` of a file, for messages.
Result<uint64_t> line_of(const io::InputFile& f, uint64_t offset) {
    uint64_t line = 1;
    std::vector<uint8_t> buf;
    for (uint64_t pos = 0; pos < offset; pos += kBlock) {
        buf.resize(static_cast<size_t>(std::min(kBlock, offset - pos)));
        SUTRA_TRY(f.read_at(pos, buf));
        line += static_cast<uint64_t>(std::count(buf.begin(), buf.end(), uint8_t{'\n'}));
    }
    return line;
}

Result<std::string> document_text(const Source& s, const Doc& d) {
    std::string raw(static_cast<size_t>(d.length), '\0');
    SUTRA_TRY(s.file.read_at(
        d.offset, std::span<uint8_t>(reinterpret_cast<uint8_t*>(raw.data()), raw.size())));
    if (!s.json_lines) return raw;
    auto bad = [&](const std::string& problem) -> Error {
        auto line = line_of(s.file, d.offset);
        return make_error(Errc::bad_format,
                          s.file.path().string() + ": line " +
                              (line ? std::to_string(*line) : "?") + ": " + problem +
                              " (a JSON Lines calibration file holds one object with a string "
                              "\"text\" field per line)");
    };
    nlohmann::json j = nlohmann::json::parse(raw, nullptr, false);
    if (j.is_discarded()) return bad("not valid JSON");
    if (!j.is_object()) return bad("not a JSON object");
    auto it = j.find("text");
    if (it == j.end() || !it->is_string()) return bad("no string field \"text\"");
    return it->get<std::string>();
}

}  // namespace

Result<CorpusTokens> read_corpus(const CorpusOptions& opt, const tokenize::Tokenizer& tok) {
    if (opt.files.empty())
        return make_error(Errc::invalid_argument, "calibration: no text files given");
    if (opt.seq_len < 2)
        return make_error(Errc::invalid_argument,
                          "calibration: --seq-len must be at least 2 (BOS + one token), got " +
                              std::to_string(opt.seq_len));
    if (opt.max_tokens < 0)
        return make_error(Errc::invalid_argument,
                          "calibration: the token limit must not be negative (0 = all)");
    std::vector<Source> sources;
    std::vector<Doc> docs;
    CorpusTokens out;
    for (const auto& path : opt.files) {
        SUTRA_ASSIGN(io::InputFile f, io::InputFile::open(path));
        Source s{std::move(f), false};
        SUTRA_ASSIGN(s.json_lines, looks_like_json_lines(s.file));
        SUTRA_TRY(index_documents(s, static_cast<uint32_t>(sources.size()), docs));
        out.bytes += s.file.size();
        sources.push_back(std::move(s));
    }
    out.documents = static_cast<int64_t>(docs.size());
    if (docs.empty())
        return make_error(Errc::invalid_argument, "calibration: the text files hold no text (" +
                                                      opt.files.front().string() +
                                                      (opt.files.size() > 1 ? ", ..." : "") + ")");

    std::vector<size_t> order(docs.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    const bool read_all = opt.max_tokens == 0 || out.bytes <= kReadAllLimit;
    if (!read_all) {
        uint64_t state = opt.seed;
        for (size_t i = order.size() - 1; i > 0; --i)
            std::swap(order[i], order[static_cast<size_t>(splitmix64(state) % (i + 1))]);
    }
    std::vector<int32_t> tokens;
    for (size_t k = 0; k < order.size(); ++k) {
        if (!read_all && static_cast<int64_t>(tokens.size()) >= opt.max_tokens) break;
        const Doc& d = docs[order[k]];
        SUTRA_ASSIGN(std::string text, document_text(sources[d.file], d));
        const auto ids = tok.encode(text, false);
        if (ids.empty()) continue;
        if (!tokens.empty() && opt.separator >= 0) tokens.push_back(opt.separator);
        tokens.insert(tokens.end(), ids.begin(), ids.end());
        ++out.documents_used;
        out.tokens_read += static_cast<int64_t>(ids.size());
    }
    for (const auto& s : sources)
        SUTRA_TRY(s.file.check_unchanged());

    const auto chunk = static_cast<size_t>(opt.seq_len - 1);
    const size_t chunks = tokens.size() / chunk;
    const size_t wanted = static_cast<size_t>(opt.max_tokens) / chunk;
    if (opt.max_tokens == 0 || wanted == 0 || chunks <= wanted) {
        out.tokens = std::move(tokens);
        return out;
    }
    out.tokens.reserve(wanted * chunk);
    for (size_t i = 0; i < wanted; ++i) {
        const size_t c = i * chunks / wanted;
        const auto b = tokens.begin() + static_cast<std::ptrdiff_t>(c * chunk);
        out.tokens.insert(out.tokens.end(), b, b + static_cast<std::ptrdiff_t>(chunk));
    }
    return out;
}

}  // namespace sutra::calib
