#pragma once
// Opens a model to run: a safetensors checkpoint (file, shards or folder) or a .qbin, with
// its config.json, of any family (model/family_registry.hpp). A .qbin carries the config.json
// of the model it was made from; a folder can be named to supply what a file lacks
// (`model_dir`). Files of a family that needs no config.json (rwkv.cpp names) open without one.
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sutra/base/error.hpp"
#include "sutra/format/qbin_reader.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/family.hpp"
#include "sutra/model/family_registry.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model {

struct ModelSource {
    std::unique_ptr<io::Checkpoint> checkpoint;  // set for safetensors input
    std::unique_ptr<format::QbinFile> qbin;      // set for .qbin input
    std::unique_ptr<WeightSource> weights;
    // config.json's document (or the .qbin's model_config); none when the family reads
    // everything from the tensors.
    std::optional<nlohmann::json> config;
    const FamilyEntry* family = nullptr;
    std::filesystem::path dir;  // where the tokenizer is looked for
    std::string what;           // the path, for messages
};

// model_dir: folder with config.json / tokenizer; default: the folder of `path`. Errors: the
// checkpoint's own, unsupported for a family sutra does not run, not_found for a missing
// config.json the family needs.
Result<ModelSource> open_model(const std::filesystem::path& path,
                               const std::optional<std::filesystem::path>& model_dir);

// The runnable model of an opened source (checks every tensor it will use).
Result<std::unique_ptr<Model>> open_runtime(const ModelSource& source,
                                            const ModelOptions& options = {});

}  // namespace sutra::model
