#include "sutra/model/model_source.hpp"

#include "sutra/format/qbin_format.hpp"
#include "sutra/io/model_path.hpp"
#include "sutra/io/strict_json.hpp"
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
    m.what = path.string();
    SUTRA_ASSIGN(io::Checkpoint ck, io::Checkpoint::open(path));
    if (model_dir) {
        SUTRA_ASSIGN(m.dir, io::resolve_model_path(*model_dir));
    } else {
        m.dir = ck.model_dir();
    }
    if (is_qbin(ck)) {
        SUTRA_ASSIGN(format::QbinFile q, format::QbinFile::open(path));
        m.qbin = std::make_unique<format::QbinFile>(std::move(q));
        m.weights = std::make_unique<QbinWeights>(*m.qbin);
        const auto& prof = m.qbin->profile();
        if (!model_dir && prof.contains("model_config") && prof["model_config"].is_object())
            m.config = prof["model_config"];
    } else {
        m.checkpoint = std::make_unique<io::Checkpoint>(std::move(ck));
        m.weights = std::make_unique<CheckpointWeights>(*m.checkpoint);
    }
    if (!m.config) {
        const fs::path cj = m.dir / "config.json";
        std::error_code ec;
        if (fs::is_regular_file(cj, ec)) {
            SUTRA_ASSIGN(nlohmann::json j, io::read_strict_json_file(cj.string()));
            m.config = std::move(j);
        }
    }
    const nlohmann::json* cfg = m.config ? &*m.config : nullptr;
    SUTRA_ASSIGN(m.family, detect_family(cfg, *m.weights, m.what));
    return m;
}

Result<std::unique_ptr<Model>> open_runtime(const ModelSource& source,
                                            const ModelOptions& options) {
    if (!source.family || !source.weights)
        return make_error(Errc::invalid_argument, "open_runtime: the source is not open");
    const nlohmann::json* cfg = source.config ? &*source.config : nullptr;
    auto m = source.family->open(cfg, *source.weights, options);
    if (!m) {
        if (m.error().code == Errc::not_found && !cfg)
            return make_error(Errc::not_found,
                              (source.dir / "config.json").string() +
                                  ": no config.json for the model; pass --model-dir with the "
                                  "folder of the original model");
        return make_error(m.error().code, source.what + ": " + m.error().message);
    }
    return std::move(*m);
}

}  // namespace sutra::model
