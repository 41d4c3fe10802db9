#include "sutra/io/checkpoint.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <system_error>
#include <unordered_set>

#include "sutra/base/half.hpp"
#include "sutra/io/foreign_format.hpp"
#include "sutra/io/mapped_file.hpp"
#include "sutra/io/model_path.hpp"
#include "sutra/io/safetensors_header.hpp"
#include "sutra/io/shard_index.hpp"
#include "sutra/io/strict_json.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::io {
namespace fs = std::filesystem;

namespace {

constexpr const char* kIndexName = "model.safetensors.index.json";

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<SafetensorsHeader> parse_header_of(const InputFile& f, const std::string& what) {
    std::array<uint8_t, 8> prefix{};
    if (f.size() < 8)
        return make_error(Errc::bad_format, what + ": file is " + std::to_string(f.size()) +
                                                " bytes, too short for a safetensors file");
    SUTRA_TRY(f.read_at(0, prefix));
    SUTRA_ASSIGN(uint64_t n, parse_header_length(prefix, f.size(), what));
    std::vector<uint8_t> json(n);
    SUTRA_TRY(f.read_at(8, json));
    return parse_safetensors_header(json, f.size() - 8 - n, what);
}

// The header, or why the file is not a safetensors file: a file in another format people
// mistake for one (a Git LFS pointer, GGUF, a PyTorch checkpoint, ...) is named as such.
Result<SafetensorsHeader> read_header(const InputFile& f) {
    const std::string what = f.path().string();
    auto h = parse_header_of(f, what);
    if (h.ok() || h.error().code == Errc::io) return h;
    std::vector<uint8_t> head(
        static_cast<size_t>(std::min<uint64_t>(f.size(), kForeignSniffBytes)));
    if (!f.read_at(0, head).ok()) return h;
    return name_foreign_format(h.take_error(), head, f.size(), what);
}

// For a folder without safetensors: the weights it holds in another format, if any.
std::string other_weights_hint(const fs::path& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string n = it->path().filename().string();
        const bool torch_bin =
            ends_with(n, ".bin") && (n.rfind("pytorch_model", 0) == 0 || n.rfind("model", 0) == 0);
        bool other = torch_bin;
        for (std::string_view ext : {".pt", ".pth", ".ckpt", ".gguf", ".safetensors.gz"})
            other = other || ends_with(n, ext);
        if (other) names.push_back(n);
    }
    if (names.empty()) return "";
    std::sort(names.begin(), names.end());
    const bool gguf = ends_with(names.front(), ".gguf");
    return " (it holds " + names.front() + (names.size() > 1 ? " and others" : "") +
           (gguf ? ": a GGUF file; sutra reads the original safetensors checkpoint)"
                 : ": convert the weights to safetensors first)");
}

}  // namespace

const TensorRef* Checkpoint::find(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

std::vector<fs::path> Checkpoint::input_paths() const {
    std::vector<fs::path> v;
    for (const auto& f : files_)
        v.push_back(f.path());
    if (!index_path_.empty()) v.push_back(index_path_);
    return v;
}

uint64_t Checkpoint::total_file_bytes() const {
    uint64_t n = 0;
    for (const auto& f : files_)
        n += f.size();
    return n;
}

// The shards' mappings (map_raw), made on first use.
struct Checkpoint::Mappings {
    std::mutex m;
    std::vector<std::shared_ptr<const MappedFile>> shards;
};

Result<Checkpoint> Checkpoint::open(const fs::path& given) {
    SUTRA_ASSIGN(const fs::path path, resolve_model_path(given));
    std::error_code ec;
    fs::path index_path;
    fs::path single;
    const auto st = fs::status(path, ec);
    if (fs::is_directory(st)) {
        if (fs::exists(path / kIndexName, ec)) {
            index_path = path / kIndexName;
        } else {
            std::vector<fs::path> found;
            for (const auto& e : fs::directory_iterator(path, ec)) {
                if (ends_with(e.path().filename().string(), ".safetensors"))
                    found.push_back(e.path());
            }
            if (found.empty())
                return make_error(Errc::not_found, path.string() +
                                                       ": folder holds no *.safetensors file and "
                                                       "no " +
                                                       kIndexName + other_weights_hint(path));
            if (found.size() > 1)
                return make_error(Errc::invalid_argument,
                                  path.string() + ": folder holds " + std::to_string(found.size()) +
                                      " .safetensors files but no " + kIndexName +
                                      "; pass one file, or add the index");
            single = found.front();
        }
    } else if (ends_with(path.filename().string(), ".json")) {
        index_path = path;
    } else {
        single = path;
    }

    Checkpoint ck;
    ck.maps_ = std::make_shared<Mappings>();
    if (!single.empty()) {
        SUTRA_ASSIGN(InputFile f, InputFile::open(single));
        SUTRA_ASSIGN(SafetensorsHeader h, read_header(f));
        ck.model_dir_ = single.parent_path().empty() ? fs::path(".") : single.parent_path();
        ck.metadata_ = std::move(h.metadata);
        for (auto& t : h.tensors) {
            TensorRef r{t.name, t.dtype, t.shape, t.numel, t.nbytes(), 0, h.data_start + t.begin};
            ck.by_name_.emplace(r.name, ck.tensors_.size());
            ck.tensors_.push_back(std::move(r));
        }
        ck.files_.push_back(std::move(f));
        return ck;
    }

    // Sharded: validate the index, then every shard header, then the cross-references.
    const std::string iname = index_path.string();
    SUTRA_ASSIGN(std::string index_text,
                 read_small_file(iname, StrictJsonLimits{kMaxIndexDepth, kMaxIndexBytes}));
    SUTRA_ASSIGN(ShardIndex index, parse_shard_index(index_text, iname));
    const fs::path dir =
        index_path.parent_path().empty() ? fs::path(".") : index_path.parent_path();
    ck.model_dir_ = dir;
    ck.index_path_ = index_path;

    const std::vector<std::string>& shard_names = index.shards;  // in order of first appearance
    std::unordered_map<std::string, uint32_t> tensor_shard;
    for (const auto& [tname, shard] : index.tensors)
        tensor_shard.emplace(tname, shard);

    std::unordered_set<std::string> seen;
    for (uint32_t s = 0; s < shard_names.size(); ++s) {
        SUTRA_ASSIGN(fs::path sp, resolve_shard_path(dir, shard_names[s], iname));
        auto f = InputFile::open(sp);
        if (!f.ok()) {
            if (f.error().code == Errc::not_found)
                return make_error(Errc::not_found, iname + ": shard \"" + shard_names[s] +
                                                       "\" is missing (" + f.error().message + ")");
            return f.take_error();
        }
        SUTRA_ASSIGN(SafetensorsHeader h, read_header(*f));
        if (s == 0) ck.metadata_ = h.metadata;
        for (auto& t : h.tensors) {
            auto it = tensor_shard.find(t.name);
            if (it == tensor_shard.end())
                return make_error(Errc::bad_format, sp.string() + ": tensor '" + t.name +
                                                        "' is not listed in " + iname);
            if (it->second != s)
                return make_error(Errc::bad_format,
                                  sp.string() + ": tensor '" + t.name + "' is listed in " + iname +
                                      " under shard \"" + shard_names[it->second] + "\"");
            if (!seen.insert(t.name).second)
                return make_error(Errc::bad_format,
                                  "tensor '" + t.name + "' appears in more than one shard");
            TensorRef r{t.name, t.dtype, t.shape, t.numel, t.nbytes(), s, h.data_start + t.begin};
            ck.by_name_.emplace(r.name, ck.tensors_.size());
            ck.tensors_.push_back(std::move(r));
        }
        ck.files_.push_back(std::move(f).value());
    }
    for (const auto& [tname, s] : tensor_shard) {
        if (!seen.count(tname))
            return make_error(Errc::bad_format, iname + ": tensor '" + tname +
                                                    "' is listed under shard \"" + shard_names[s] +
                                                    "\" but that shard does not hold it");
    }
    return ck;
}

Status Checkpoint::read_raw(const TensorRef& t, uint64_t byte_offset,
                            std::span<uint8_t> out) const {
    if (byte_offset > t.nbytes || out.size() > t.nbytes - byte_offset)
        return make_error(Errc::internal, "read past the end of tensor '" + t.name + "'");
    return files_[t.shard].read_at(t.file_offset + byte_offset, out);
}

Result<std::span<const uint8_t>> Checkpoint::map_raw(const TensorRef& t,
                                                     std::shared_ptr<const void>& keep) const {
    if (t.shard >= files_.size() || t.file_offset > files_[t.shard].size() ||
        t.nbytes > files_[t.shard].size() - t.file_offset || !maps_)
        return make_error(Errc::internal, "tensor '" + t.name + "' lies outside its file");
    std::shared_ptr<const MappedFile> map;
    {
        std::lock_guard lock(maps_->m);
        if (maps_->shards.size() < files_.size()) maps_->shards.resize(files_.size());
        auto& slot = maps_->shards[t.shard];
        if (!slot) {
            SUTRA_TRY(files_[t.shard].check_unchanged());
            SUTRA_ASSIGN(slot, MappedFile::map(files_[t.shard]));
        }
        map = slot;
    }
    const std::span<const uint8_t> all = map->bytes();
    keep = map;
    return all.subspan(t.file_offset, t.nbytes);
}

Status Checkpoint::read_f32(const TensorRef& t, uint64_t elem_offset, std::span<float> out) const {
    if (!dtype_is_float_quantizable(t.dtype))
        return make_error(Errc::unsupported,
                          "tensor '" + t.name + "': dtype " + std::string(dtype_name(t.dtype)) +
                              " cannot be converted to f32 (only F32, F16, BF16)");
    const uint32_t es = dtype_size(t.dtype);
    if (elem_offset > t.numel || out.size() > t.numel - elem_offset)
        return make_error(Errc::internal, "read past the end of tensor '" + t.name + "'");
    if (t.dtype == DType::F32) {
        return read_raw(t, elem_offset * 4,
                        std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()), out.size() * 4));
    }
    // 16-bit types: read into the upper half of the output buffer, then widen in place from the
    // front: f32 i ends at byte 4i+4 <= 2n+2i+2, where the first still unread value begins.
    auto* raw = reinterpret_cast<uint8_t*>(out.data()) + out.size() * 2;
    SUTRA_TRY(read_raw(t, elem_offset * es, std::span<uint8_t>(raw, out.size() * 2)));
    const auto* h = reinterpret_cast<const uint16_t*>(raw);
    if (t.dtype == DType::BF16)
        simd::active().bf16_to_f32(h, out.data(), out.size());  // widens in place, front first
    else
        simd::active().f16_to_f32(h, out.data(), out.size());
    return {};
}

Result<std::vector<float>> Checkpoint::read_all_f32(const TensorRef& t) const {
    std::vector<float> v(t.numel);
    SUTRA_TRY(read_f32(t, 0, v));
    return v;
}

Result<std::vector<float>> Checkpoint::read_all_f32(std::string_view name) const {
    const TensorRef* t = find(name);
    if (!t)
        return make_error(Errc::not_found,
                          "tensor '" + std::string(name) + "' is not in the checkpoint");
    return read_all_f32(*t);
}

Status Checkpoint::check_unchanged() const {
    for (const auto& f : files_)
        SUTRA_TRY(f.check_unchanged());
    return {};
}

}  // namespace sutra::io
