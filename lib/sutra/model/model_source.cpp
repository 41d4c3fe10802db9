#include "sutra/model/model_source.hpp"

#include "sutra/format/qbin_format.hpp"
#include "sutra/io/file.hpp"
#include "sutra/model/qbin_weights.hpp"
#include "sutra/model/tokenizer.hpp"

namespace sutra::model {
namespace fs = std::filesystem;

namespace {

bool is_qbin(const io::Checkpoint& ck) {
    for (const auto& [k, v] : ck.metadata())
        if (k == format::kProfileKey) return true;
    return false;
}

}  // namespace

Result<ModelSource> open_model(const fs::path& path, const std::optional<fs::path>& model_dir) {
    ModelSource m;
    SUTRA_ASSIGN(io::Checkpoint ck, io::Checkpoint::open(path));
    m.dir = model_dir ? *model_dir : ck.model_dir();
    std::optional<LlamaConfig> cfg;
    if (is_qbin(ck)) {
        SUTRA_ASSIGN(format::QbinFile q, format::QbinFile::open(path));
        m.qbin = std::make_unique<format::QbinFile>(std::move(q));
        m.weights = std::make_unique<QbinWeights>(*m.qbin);
        const auto& prof = m.qbin->profile();
        if (!model_dir && prof.contains("model_config") && prof["model_config"].is_object()) {
            SUTRA_ASSIGN(LlamaConfig c, parse_llama_config(prof["model_config"],
                                                           path.string() + " (model_config)"));
            cfg = std::move(c);
        }
    } else {
        m.checkpoint = std::make_unique<io::Checkpoint>(std::move(ck));
        m.weights = std::make_unique<CheckpointWeights>(*m.checkpoint);
    }
    if (!cfg) {
        const fs::path cj = m.dir / "config.json";
        if (!fs::exists(cj))
            return make_error(Errc::not_found,
                              cj.string() +
                                  ": no config.json for the model; pass --model-dir "
                                  "with the folder of the original model");
        SUTRA_ASSIGN(LlamaConfig c, read_llama_config(cj));
        cfg = std::move(c);
    }
    m.config = std::move(*cfg);
    return m;
}

Result<std::vector<int32_t>> load_eval_tokens(const ModelSource& m,
                                              const std::optional<fs::path>& text_file,
                                              const std::optional<fs::path>& tokens_file) {
    if (text_file.has_value() == tokens_file.has_value())
        return make_error(Errc::invalid_argument,
                          "give exactly one of --text FILE and --tokens-file FILE");
    if (tokens_file) return read_token_ids_file(*tokens_file, m.config.vocab_size);
    SUTRA_ASSIGN(Tokenizer tok, Tokenizer::load_for_model(m.dir, m.config.vocab_size));
    SUTRA_ASSIGN(io::InputFile f, io::InputFile::open(*text_file));
    if (f.size() > (1ull << 31))
        return make_error(Errc::too_large,
                          text_file->string() + ": text larger than 2 GiB; pass a smaller file");
    std::string text(f.size(), '\0');
    SUTRA_TRY(
        f.read_at(0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), text.size())));
    return tok.encode(text, false);
}

}  // namespace sutra::model
