#include "sutra/model/qbin_weights.hpp"

#include <atomic>

namespace sutra::model {

Result<const format::QbinRecord*> QbinWeights::record(std::string_view name) const {
    const auto* r = file_->find(name);
    if (!r)
        return make_error(Errc::not_found,
                          "tensor '" + std::string(name) + "' is not in the .qbin");
    if (!dtype_is_float_quantizable(r->dtype))
        return make_error(Errc::unsupported, "tensor '" + r->name + "' has dtype " +
                                                 std::string(dtype_name(r->dtype)) +
                                                 ", not a float weight");
    return r;
}

bool QbinWeights::has(std::string_view name) const {
    return file_->find(name) != nullptr;
}

Result<std::vector<uint64_t>> QbinWeights::shape(std::string_view name) const {
    const auto* r = file_->find(name);
    if (!r)
        return make_error(Errc::not_found,
                          "tensor '" + std::string(name) + "' is not in the .qbin");
    return r->shape;
}

Result<std::vector<float>> QbinWeights::load(std::string_view name) const {
    SUTRA_ASSIGN(const format::QbinRecord* r, record(name));
    return file_->read_all_f32(*r);
}

Result<std::vector<float>> QbinWeights::load_rows(std::string_view name,
                                                  std::span<const uint64_t> rows) const {
    SUTRA_ASSIGN(const format::QbinRecord* r, record(name));
    const uint64_t n = format::QbinFile::rows_of(*r), cols = format::QbinFile::cols_of(*r);
    std::vector<float> out(rows.size() * cols);
    for (size_t i = 0; i < rows.size(); ++i) {
        if (rows[i] >= n)
            return make_error(Errc::invalid_argument, "row " + std::to_string(rows[i]) +
                                                          " is outside tensor '" + r->name + "' (" +
                                                          std::to_string(n) + " rows)");
        SUTRA_TRY(file_->read_rows_f32(*r, rows[i], 1, out.data() + i * cols));
    }
    return out;
}

Result<Matrix> QbinWeights::load_matrix(std::string_view name) const {
    SUTRA_ASSIGN(const format::QbinRecord* r, record(name));
    if (!r->quantized) {
        SUTRA_ASSIGN(std::vector<float> v, file_->read_all_f32(*r));
        return Matrix(std::move(v));
    }
    SUTRA_ASSIGN(quant::PackedMatrix m, map_ ? file_->map_packed(*r) : file_->read_packed(*r));
    return Matrix(std::make_shared<const quant::PackedMatrix>(std::move(m)));
}

namespace {
std::atomic<bool>& mapping_slot() {
    static std::atomic<bool> on{true};
    return on;
}
}  // namespace

bool QbinWeights::qbin_mapping() {
    return mapping_slot().load();
}

void QbinWeights::set_qbin_mapping(bool on) {
    mapping_slot().store(on);
}

}  // namespace sutra::model
