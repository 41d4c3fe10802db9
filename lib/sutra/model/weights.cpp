#include "sutra/model/weights.hpp"

#include <algorithm>

namespace sutra::model {
namespace {

Error missing(std::string_view name, const std::string& where) {
    return make_error(Errc::not_found, "tensor '" + std::string(name) + "' is not in " + where);
}

// The row width of a tensor viewed as [shape[0], rest], after checking every row index.
Result<uint64_t> row_width(std::string_view name, const std::vector<uint64_t>& shape,
                           uint64_t numel, std::span<const uint64_t> rows) {
    if (shape.empty() || shape[0] == 0) {
        return make_error(Errc::invalid_argument,
                          "tensor '" + std::string(name) + "' has no rows to gather");
    }
    for (uint64_t r : rows) {
        if (r >= shape[0]) {
            return make_error(Errc::invalid_argument, "tensor '" + std::string(name) + "': row " +
                                                          std::to_string(r) + " is past its " +
                                                          std::to_string(shape[0]) + " rows");
        }
    }
    return numel / shape[0];
}

}  // namespace

Result<std::vector<float>> WeightSource::load_rows(std::string_view name,
                                                   std::span<const uint64_t> rows) const {
    SUTRA_ASSIGN(std::vector<uint64_t> dims, shape(name));
    SUTRA_ASSIGN(std::vector<float> all, load(name));
    SUTRA_ASSIGN(uint64_t width, row_width(name, dims, all.size(), rows));
    std::vector<float> out;
    out.reserve(rows.size() * width);
    for (uint64_t r : rows) {
        const auto* src = all.data() + r * width;
        out.insert(out.end(), src, src + width);
    }
    return out;
}

bool CheckpointWeights::has(std::string_view name) const {
    return ckpt_->find(name) != nullptr;
}

Result<std::vector<uint64_t>> CheckpointWeights::shape(std::string_view name) const {
    const io::TensorRef* t = ckpt_->find(name);
    if (!t) return missing(name, "the checkpoint");
    return t->shape;
}

Result<std::vector<float>> CheckpointWeights::load(std::string_view name) const {
    const io::TensorRef* t = ckpt_->find(name);
    if (!t) return missing(name, "the checkpoint");
    return ckpt_->read_all_f32(*t);
}

Result<Matrix> WeightSource::load_matrix(std::string_view name) const {
    SUTRA_ASSIGN(std::vector<float> v, load(name));
    return Matrix(std::move(v));
}

Result<std::vector<float>> CheckpointWeights::load_rows(std::string_view name,
                                                        std::span<const uint64_t> rows) const {
    const io::TensorRef* t = ckpt_->find(name);
    if (!t) return missing(name, "the checkpoint");
    SUTRA_ASSIGN(uint64_t width, row_width(name, t->shape, t->numel, rows));
    std::vector<float> out(rows.size() * width);
    for (size_t i = 0; i < rows.size(); ++i) {
        SUTRA_TRY(
            ckpt_->read_f32(*t, rows[i] * width, std::span<float>(out.data() + i * width, width)));
    }
    return out;
}

}  // namespace sutra::model
