#include "sutra/pipeline/tokenize.hpp"

#include <cstdio>

#include "sutra/io/file.hpp"
#include "sutra/model/tokenizer.hpp"
#include "sutra/tokenize/discovery.hpp"

namespace sutra::pipeline {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxText = uint64_t{1} << 31;

Result<std::string> read_text(const fs::path& path) {
    std::string text;
    if (path == "-") {
        char buf[1 << 16];
        size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) {
            if (text.size() + n > kMaxText)
                return make_error(Errc::too_large, "standard input: more than 2 GiB of text");
            text.append(buf, n);
        }
        if (std::ferror(stdin)) return make_error(Errc::io, "standard input: read error");
        return text;
    }
    SUTRA_ASSIGN(io::InputFile f, io::InputFile::open(path));
    if (f.size() > kMaxText)
        return make_error(Errc::too_large,
                          path.string() + ": text larger than 2 GiB; pass a smaller file");
    text.resize(f.size());
    SUTRA_TRY(
        f.read_at(0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), text.size())));
    return text;
}

// A folder or a checkpoint file is searched for its model's tokenizer; any other file is
// taken as a tokenizer file.
Result<tokenize::TokenizerFile> tokenizer_of(const fs::path& source) {
    std::error_code ec;
    if (fs::is_directory(source, ec)) return tokenize::resolve_tokenizer_path(source);
    const std::string name = source.filename().string();
    auto ends_with = [&](std::string_view s) {
        return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    if (ends_with(".safetensors") || ends_with(".index.json") || ends_with(".qbin")) {
        const fs::path dir = source.parent_path().empty() ? fs::path(".") : source.parent_path();
        return tokenize::find_tokenizer_file(dir);
    }
    return tokenize::resolve_tokenizer_path(source);
}

}  // namespace

Result<TokenizeReport> run_tokenize(const TokenizeOptions& opt) {
    if (opt.text.has_value() == opt.decode.has_value())
        return make_error(Errc::invalid_argument,
                          "give exactly one of --text FILE (encode) and --decode IDS_FILE");
    SUTRA_ASSIGN(tokenize::TokenizerFile file, tokenizer_of(opt.source));
    SUTRA_ASSIGN(tokenize::LoadedTokenizer t, tokenize::load_tokenizer(file, 0));
    TokenizeReport rep;
    rep.tokenizer = t.tokenizer->describe();
    rep.file = file.path.string();
    if (opt.text) {
        SUTRA_ASSIGN(std::string text, read_text(*opt.text));
        rep.ids = t.tokenizer->encode(text, opt.special);
        return rep;
    }
    SUTRA_ASSIGN(std::string ids, read_text(*opt.decode));
    SUTRA_ASSIGN(rep.ids,
                 model::parse_token_ids(ids, t.tokenizer->vocab_size(), opt.decode->string()));
    rep.text = t.tokenizer->decode(rep.ids, !opt.special);
    return rep;
}

}  // namespace sutra::pipeline
