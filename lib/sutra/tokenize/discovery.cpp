#include "sutra/tokenize/discovery.hpp"
#include "sutra/tokenize/byte_tokenizer.hpp"

#include <array>
#include <utility>

#include "sutra/io/file.hpp"
#include "sutra/io/model_path.hpp"
#include "sutra/tokenize/hf_tokenizer.hpp"
#include "sutra/tokenize/llama2c_tokenizer.hpp"
#include "sutra/tokenize/sentencepiece_tokenizer.hpp"

namespace sutra::tokenize {
namespace fs = std::filesystem;

namespace {

constexpr std::array<std::pair<const char*, TokenizerKind>, 5> kSearchOrder = {{
    {"tokenizer.json", TokenizerKind::hf_json},
    {"tokenizer.model", TokenizerKind::sentencepiece},
    {"spiece.model", TokenizerKind::sentencepiece},
    {"tok512.bin", TokenizerKind::llama2c},
    {"tokenizer.bin", TokenizerKind::llama2c},
}};

// A file's kind from its name, else from its first byte: '{' is JSON, 0x0a the first field
// (the pieces) of a SentencePiece protobuf; anything else is tried as llama2.c.
Result<TokenizerKind> kind_of_file(const fs::path& file) {
    const std::string name = file.filename().string();
    auto ends_with = [&](std::string_view s) {
        return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    if (ends_with(".json")) return TokenizerKind::hf_json;
    if (ends_with(".model")) return TokenizerKind::sentencepiece;
    if (ends_with(".bin")) return TokenizerKind::llama2c;
    SUTRA_ASSIGN(io::InputFile f, io::InputFile::open(file));
    uint8_t first = 0;
    if (f.size() > 0) SUTRA_TRY(f.read_at(0, std::span<uint8_t>(&first, 1)));
    if (first == '{') return TokenizerKind::hf_json;
    if (first == 0x0a) return TokenizerKind::sentencepiece;
    return TokenizerKind::llama2c;
}

}  // namespace

const char* kind_name(TokenizerKind kind) {
    switch (kind) {
        case TokenizerKind::hf_json:
            return "tokenizer.json";
        case TokenizerKind::sentencepiece:
            return "sentencepiece";
        case TokenizerKind::llama2c:
            return "llama2.c";
        case TokenizerKind::bytes:
            return "bytes";
    }
    return "?";
}

Result<TokenizerFile> find_tokenizer_file(const fs::path& dir) {
    std::error_code ec;
    for (const auto& [name, kind] : kSearchOrder) {
        const fs::path p = dir / name;
        // is_regular_file follows symbolic links (the Hugging Face hub cache links into blobs/).
        if (fs::is_regular_file(p, ec)) return TokenizerFile{p, kind};
    }
    return make_error(Errc::not_found,
                      dir.string() +
                          ": no tokenizer in the model folder (looked for tokenizer.json, "
                          "tokenizer.model, spiece.model, tok512.bin, tokenizer.bin); pass "
                          "--tokenizer PATH, or --tokens-file FILE with token ids instead of text");
}

Result<TokenizerFile> resolve_tokenizer_path(const fs::path& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        SUTRA_ASSIGN(fs::path dir, io::resolve_model_path(path));
        return find_tokenizer_file(dir);
    }
    if (!fs::exists(path, ec)) {
        if (path == "bytes") return TokenizerFile{path, TokenizerKind::bytes};
        return make_error(Errc::not_found,
                          path.string() +
                              ": --tokenizer names no such file (`bytes` names the "
                              "byte-level tokenizer)");
    }
    SUTRA_ASSIGN(TokenizerKind kind, kind_of_file(path));
    return TokenizerFile{path, kind};
}

Result<LoadedTokenizer> load_tokenizer(const TokenizerFile& file, int64_t model_vocab) {
    LoadedTokenizer out;
    out.file = file;
    switch (file.kind) {
        case TokenizerKind::hf_json: {
            SUTRA_ASSIGN(out.tokenizer, load_hf_tokenizer(file.path));
            break;
        }
        case TokenizerKind::sentencepiece: {
            SUTRA_ASSIGN(out.tokenizer, load_sentencepiece_tokenizer(file.path));
            break;
        }
        case TokenizerKind::llama2c: {
            SUTRA_ASSIGN(out.tokenizer, load_llama2c_tokenizer(file.path, model_vocab));
            break;
        }
        case TokenizerKind::bytes:
            out.tokenizer = make_byte_tokenizer();
            break;
    }
    if (model_vocab > 0 && out.tokenizer->vocab_size() > model_vocab)
        return make_error(Errc::bad_format,
                          file.path.string() + ": the tokenizer has " +
                              std::to_string(out.tokenizer->vocab_size()) +
                              " tokens but the model's vocab_size is " +
                              std::to_string(model_vocab) +
                              " (the tokenizer of another model? pass --tokenizer PATH)");
    return out;
}

Result<LoadedTokenizer> open_tokenizer(const fs::path& model_dir,
                                       const std::optional<fs::path>& override_path,
                                       int64_t model_vocab) {
    if (override_path) {
        SUTRA_ASSIGN(TokenizerFile f, resolve_tokenizer_path(*override_path));
        return load_tokenizer(f, model_vocab);
    }
    auto found = find_tokenizer_file(model_dir);
    if (!found && found.error().code == Errc::not_found && model_vocab == 256)
        return load_tokenizer(TokenizerFile{"bytes", TokenizerKind::bytes}, model_vocab);
    if (!found) return found.error();
    return load_tokenizer(*found, model_vocab);
}

}  // namespace sutra::tokenize
