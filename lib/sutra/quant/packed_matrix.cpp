#include "sutra/quant/packed_matrix.hpp"

#include "sutra/quant/rtn.hpp"

namespace sutra::quant {

PackedMatrix PackedMatrix::owning(const QuantLayout& layout, std::vector<uint8_t> codes,
                                  std::vector<uint16_t> scales, std::vector<uint8_t> zeros) {
    struct Buffers {
        std::vector<uint8_t> codes;
        std::vector<uint16_t> scales;
        std::vector<uint8_t> zeros;
    };
    auto b =
        std::make_shared<Buffers>(Buffers{std::move(codes), std::move(scales), std::move(zeros)});
    PackedMatrix m;
    m.layout = layout;
    m.codes = b->codes;
    m.scales = b->scales;
    m.zeros = b->zeros;
    m.storage = std::move(b);
    return m;
}

bool PackedMatrix::consistent() const {
    const QuantLayout& l = layout;
    return codes.size() == l.rows * l.row_code_bytes && scales.size() == l.rows * l.n_groups &&
           zeros.size() == l.rows * l.row_zero_bytes;
}

void PackedMatrix::dequantize_rows(const simd::Kernels& k, uint64_t row0, uint64_t n,
                                   float* out) const {
    const QuantLayout& l = layout;
    thread_local std::vector<uint8_t> row_codes, row_zeros;
    row_codes.resize(l.cols);
    row_zeros.resize(l.n_groups);
    for (uint64_t i = 0; i < n; ++i) {
        const uint64_t r = row0 + i;
        unpack_row_codes(k, codes.data() + r * l.row_code_bytes, l.cols, l.bits, row_codes.data());
        unpack_row_codes(k, zeros.data() + r * l.row_zero_bytes, l.n_groups, l.bits,
                         row_zeros.data());
        dequantize_row(k, row_codes.data(), scales.data() + r * l.n_groups, row_zeros.data(), l,
                       out + i * l.cols);
    }
}

}  // namespace sutra::quant
