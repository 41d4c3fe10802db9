#pragma once
// A safetensors checkpoint opened for streaming: a single .safetensors file, a sharded
// checkpoint (model.safetensors.index.json + shards), or a Hugging Face model folder holding
// either. Every header (and the index) is validated at open time, before any tensor data is
// read; tensor data is then read on demand with pread, a chunk at a time, so memory does not
// grow with the model.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sutra/base/dtype.hpp"
#include "sutra/base/error.hpp"
#include "sutra/io/file.hpp"

namespace sutra::io {

struct TensorRef {
    std::string name;
    DType dtype = DType::F32;
    std::vector<uint64_t> shape;
    uint64_t numel = 0;
    uint64_t nbytes = 0;
    uint32_t shard = 0;        // index into Checkpoint::files()
    uint64_t file_offset = 0;  // absolute offset of the first byte in that shard
};

class Checkpoint {
  public:
    // path: a .safetensors file, a *.index.json file, or a folder containing
    // model.safetensors.index.json or exactly one *.safetensors file; also a Hugging Face hub
    // cache folder (models--ORG--NAME, resolved to the snapshot refs/main names; see
    // io/model_path.hpp). Files may be symbolic links to regular files. A file that is not
    // safetensors but another format people mistake for it (a Git LFS pointer, GGUF, a
    // PyTorch checkpoint, an HTML page) is named as such (io/foreign_format.hpp).
    static Result<Checkpoint> open(const std::filesystem::path& path);

    // Tensors in checkpoint order: shards in the order they first appear in the index, and
    // within a shard in header order. Names are unique.
    const std::vector<TensorRef>& tensors() const { return tensors_; }
    const TensorRef* find(std::string_view name) const;

    const std::vector<InputFile>& files() const { return files_; }
    // The shard index, when the checkpoint is sharded (empty otherwise).
    const std::filesystem::path& index_path() const { return index_path_; }
    // Every file the checkpoint consists of: the shards and the index.
    std::vector<std::filesystem::path> input_paths() const;
    // The folder holding the checkpoint (where config.json and a tokenizer may be): the
    // folder of the path given (links not resolved), or the hub snapshot folder.
    const std::filesystem::path& model_dir() const { return model_dir_; }
    // __metadata__ of the (first) shard.
    const std::vector<std::pair<std::string, std::string>>& metadata() const { return metadata_; }
    // Sum of the sizes of all files read (headers included).
    uint64_t total_file_bytes() const;

    // Raw bytes [byte_offset, byte_offset + out.size()) of a tensor's data.
    Status read_raw(const TensorRef& t, uint64_t byte_offset, std::span<uint8_t> out) const;
    // A tensor's data in place, in a read-only mapping of its shard (io::MappedFile, made on
    // first use and shared by the shard's tensors; safe to call from several threads). `keep`
    // receives the mapping, which keeps the bytes valid after this checkpoint is gone.
    Result<std::span<const uint8_t>> map_raw(const TensorRef& t,
                                             std::shared_ptr<const void>& keep) const;
    // Elements [elem_offset, elem_offset + out.size()) converted to f32 (F32, F16, BF16 only).
    Status read_f32(const TensorRef& t, uint64_t elem_offset, std::span<float> out) const;
    // Convenience for small tensors: the whole tensor as f32.
    Result<std::vector<float>> read_all_f32(const TensorRef& t) const;
    Result<std::vector<float>> read_all_f32(std::string_view name) const;

    // Fails if any shard changed size or modification time since open().
    Status check_unchanged() const;

  private:
    struct Mappings;
    std::vector<InputFile> files_;
    std::shared_ptr<Mappings> maps_;
    std::vector<TensorRef> tensors_;
    std::unordered_map<std::string, size_t> by_name_;
    std::filesystem::path model_dir_;
    std::filesystem::path index_path_;
    std::vector<std::pair<std::string, std::string>> metadata_;
};

}  // namespace sutra::io
