#pragma once
// Opens a model to run: a safetensors checkpoint (file, shards or folder) or a .qbin, with
// its config.json and, on request, its tokenizer. A .qbin carries the config.json of the model
// it was made from; a folder can be named to supply what a file lacks (`model_dir`).
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/format/qbin_reader.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/model/llama_config.hpp"
#include "sutra/model/weights.hpp"

namespace sutra::model {

struct ModelSource {
    std::unique_ptr<io::Checkpoint> checkpoint;  // set for safetensors input
    std::unique_ptr<format::QbinFile> qbin;      // set for .qbin input
    std::unique_ptr<WeightSource> weights;
    LlamaConfig config;
    std::filesystem::path dir;  // where the tokenizer is looked for
};

// model_dir: folder with config.json / tokenizer; default: the folder of `path`.
Result<ModelSource> open_model(const std::filesystem::path& path,
                               const std::optional<std::filesystem::path>& model_dir);

}  // namespace sutra::model
