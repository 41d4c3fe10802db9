#include "sutra/model/text_tokens.hpp"

#include "sutra/calib/corpus.hpp"
#include "sutra/io/file.hpp"
#include "sutra/io/strict_json.hpp"
#include "sutra/model/tokenizer.hpp"

namespace sutra::model {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxEvalText = uint64_t{1} << 31;

// bos_token_id and eos_token_id (one id or a list) of generation_config.json, if present.
Status read_generation_config(const fs::path& dir, int64_t vocab, int64_t& bos,
                              std::vector<int32_t>& eos) {
    const fs::path p = dir / "generation_config.json";
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) return {};
    SUTRA_ASSIGN(nlohmann::json j, io::read_strict_json_file(p.string()));
    auto id_of = [&](const nlohmann::json& v, const char* field) -> Result<int32_t> {
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= vocab)
            return make_error(Errc::bad_format,
                              p.string() + ": " + field + " " + v.dump() +
                                  " is not a token id below the vocabulary size " +
                                  std::to_string(vocab));
        return static_cast<int32_t>(v.get<int64_t>());
    };
    if (auto it = j.find("bos_token_id"); it != j.end() && !it->is_null()) {
        SUTRA_ASSIGN(int32_t b, id_of(*it, "bos_token_id"));
        bos = b;
    }
    if (auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
        eos.clear();
        if (it->is_array()) {
            for (const auto& v : *it) {
                SUTRA_ASSIGN(int32_t e, id_of(v, "eos_token_id"));
                eos.push_back(e);
            }
        } else {
            SUTRA_ASSIGN(int32_t e, id_of(*it, "eos_token_id"));
            eos.push_back(e);
        }
    }
    return {};
}

Result<TextTokens> from_tokens_file(const fs::path& file, const VocabInfo& config) {
    TextTokens t;
    SUTRA_ASSIGN(t.tokens, read_token_ids_file(file, config.vocab_size));
    t.tokens_read = static_cast<int64_t>(t.tokens.size());
    return t;
}

Status check_input(const TextInput& in) {
    if (!in.texts.empty() != in.tokens_file.has_value()) return {};
    return make_error(Errc::invalid_argument,
                      "give exactly one of a text (--text / --calib-text FILE) and "
                      "--tokens-file FILE");
}

}  // namespace

Result<ModelTokenizer> open_model_tokenizer(const fs::path& model_dir,
                                            const std::optional<fs::path>& tokenizer,
                                            const VocabInfo& config) {
    ModelTokenizer m;
    SUTRA_ASSIGN(m.loaded, tokenize::open_tokenizer(model_dir, tokenizer, config.vocab_size));
    int64_t gen_bos = -1;
    for (int64_t e : config.eos_token_ids)
        m.eos.push_back(static_cast<int32_t>(e));
    SUTRA_TRY(read_generation_config(model_dir, config.vocab_size, gen_bos, m.eos));
    const auto lead = m.loaded.tokenizer->leading_special_ids();
    if (!config.starts_with_bos) {
        m.window_start = -1;
    } else if (!lead.empty()) {
        m.window_start = lead.front();
    } else if (config.bos_token_id >= 0) {
        m.window_start = static_cast<int32_t>(config.bos_token_id);
    } else if (gen_bos >= 0) {
        m.window_start = static_cast<int32_t>(gen_bos);
    } else if (!m.eos.empty()) {
        m.window_start = m.eos.front();
    } else {
        return make_error(Errc::bad_format,
                          (model_dir / "config.json").string() +
                              ": the model names no BOS or EOS token (bos_token_id, "
                              "eos_token_id), and its tokenizer adds none; sutra needs one to "
                              "start each evaluation or calibration window");
    }
    return m;
}

Result<TextTokens> load_eval_tokens(const fs::path& model_dir, const VocabInfo& config,
                                    const TextInput& in) {
    SUTRA_TRY(check_input(in));
    if (in.tokens_file) return from_tokens_file(*in.tokens_file, config);
    if (in.texts.size() != 1)
        return make_error(Errc::invalid_argument, "evaluation takes one text file");
    SUTRA_ASSIGN(ModelTokenizer mt, open_model_tokenizer(model_dir, in.tokenizer, config));
    SUTRA_ASSIGN(io::InputFile f, io::InputFile::open(in.texts.front()));
    if (f.size() > kMaxEvalText)
        return make_error(Errc::too_large, in.texts.front().string() +
                                               ": text larger than 2 GiB; pass a smaller file");
    std::string text(f.size(), '\0');
    SUTRA_TRY(
        f.read_at(0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), text.size())));
    TextTokens t;
    t.tokens = mt.loaded.tokenizer->encode(text, false);
    t.window_start = mt.window_start;
    t.tokenizer = mt.loaded.tokenizer->describe();
    t.documents = t.documents_used = 1;
    t.tokens_read = static_cast<int64_t>(t.tokens.size());
    return t;
}

Result<TextTokens> load_calib_tokens(const fs::path& model_dir, const VocabInfo& config,
                                     const TextInput& in, int64_t seq_len, int64_t max_tokens,
                                     uint64_t seed) {
    SUTRA_TRY(check_input(in));
    if (in.tokens_file) return from_tokens_file(*in.tokens_file, config);
    SUTRA_ASSIGN(ModelTokenizer mt, open_model_tokenizer(model_dir, in.tokenizer, config));
    calib::CorpusOptions co;
    co.files = in.texts;
    // The corpus cuts chunks of seq_len - 1 text tokens (BOS + chunk = a window); a window
    // without a BOS (RWKV) is seq_len text tokens, one chunk.
    co.seq_len = mt.window_start >= 0 ? seq_len : seq_len + 1;
    co.max_tokens = max_tokens;
    co.seed = seed;
    co.separator = mt.window_start;
    SUTRA_ASSIGN(calib::CorpusTokens c, calib::read_corpus(co, *mt.loaded.tokenizer));
    TextTokens t;
    t.tokens = std::move(c.tokens);
    t.window_start = mt.window_start;
    t.tokenizer = mt.loaded.tokenizer->describe();
    t.documents = c.documents;
    t.documents_used = c.documents_used;
    t.tokens_read = c.tokens_read;
    return t;
}

}  // namespace sutra::model
