#include "sutra/model/model_source.hpp"

#include "sutra/format/qbin_format.hpp"
#include "sutra/io/model_path.hpp"
#include "sutra/model/qbin_weights.hpp"

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
    if (model_dir) {
        SUTRA_ASSIGN(m.dir, io::resolve_model_path(*model_dir));
    } else {
        m.dir = ck.model_dir();
    }
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

}  // namespace sutra::model
