#include "sutra/pipeline/tensor_writer.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "sutra/base/half.hpp"
#include "sutra/base/thread_pool.hpp"
#include "sutra/quant/rtn.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::pipeline {

RowSource rows_from(std::span<const float> values, uint64_t cols) {
    return [values, cols](uint64_t row0, uint64_t n, float* out) -> Status {
        const auto block = values.subspan(row0 * cols, n * cols);
        std::copy(block.begin(), block.end(), out);
        return {};
    };
}

namespace {

size_t value_bytes(simd::RowFormat f) {
    return f == simd::RowFormat::f32 ? 4 : 2;
}

// The error for a row rtn_row refused: the reference, on the row widened to f32, names the
// element (or group) at fault.
Status row_error(const format::QbinRecord& r, uint64_t row, const void* values,
                 simd::RowFormat format) {
    const auto& l = r.layout;
    std::vector<float> x(l.cols);
    const auto* h = static_cast<const uint16_t*>(values);
    for (uint64_t c = 0; c < l.cols; ++c)
        x[c] = format == simd::RowFormat::f16    ? f16_to_f32(h[c])
               : format == simd::RowFormat::bf16 ? bf16_to_f32(h[c])
                                                 : static_cast<const float*>(values)[c];
    std::vector<uint8_t> codes(l.cols), zeros(l.n_groups);
    std::vector<uint16_t> scales(l.n_groups);
    size_t bad = 0;
    const auto st =
        quant::quantize_row_rtn(x.data(), l, codes.data(), scales.data(), zeros.data(), &bad);
    if (st == quant::RowStatus::not_finite)
        return make_error(Errc::bad_format, "tensor '" + r.name + "': element [" +
                                                std::to_string(row) + ", " + std::to_string(bad) +
                                                "] is NaN or infinite; fix the checkpoint or keep "
                                                "this tensor with a rule");
    if (st == quant::RowStatus::scale_overflow)
        return make_error(Errc::unsupported, "tensor '" + r.name + "': row " + std::to_string(row) +
                                                 " has values too large for an F16 group scale; "
                                                 "keep this tensor with a rule");
    return make_error(Errc::internal, "tensor '" + r.name + "': row " + std::to_string(row) +
                                          ": the " + simd::active().name +
                                          " kernels refused a row the reference quantizes");
}

}  // namespace

Status quantize_rows(const format::QbinRecord& r, uint64_t row0, uint64_t n, const void* values,
                     simd::RowFormat format, PackedBlock& out, StageTimes* times) {
    const auto& l = r.layout;
    const simd::Kernels& k = simd::active();
    out.parts[0].resize(n * l.row_code_bytes);
    out.parts[1].resize(n * l.n_groups * 2);
    out.parts[2].resize(n * l.row_zero_bytes);
    std::vector<uint8_t> zeros(l.n_groups);
    ScopedStage t(times, Stage::quantize);
    auto* scales = reinterpret_cast<uint16_t*>(out.parts[1].data());
    const size_t row_bytes = l.cols * value_bytes(format);
    for (uint64_t i = 0; i < n; ++i) {
        simd::RtnRow row;
        row.values = static_cast<const uint8_t*>(values) + i * row_bytes;
        row.format = format;
        row.cols = l.cols;
        row.group = l.group;
        row.n_groups = l.n_groups;
        row.bits = l.bits;
        row.codes = out.parts[0].data() + i * l.row_code_bytes;
        row.scales = scales + i * l.n_groups;
        row.zeros = zeros.data();
        if (!k.rtn_row(row)) return row_error(r, row0 + i, row.values, format);
        quant::pack_row_codes(k, zeros.data(), l.n_groups, l.bits,
                              out.parts[2].data() + i * l.row_zero_bytes);
    }
    return {};
}

Status write_quantized(const format::QbinRecord& r, size_t ri, format::QbinWriter& w,
                       const RowSource& rows, uint64_t chunk_bytes, unsigned threads) {
    const auto& l = r.layout;
    const uint64_t rows_per_block = std::max<uint64_t>(1, chunk_bytes / (l.cols * 4));
    const uint64_t n_blocks = (l.rows + rows_per_block - 1) / rows_per_block;
    // A batch of blocks: rows fetched in order, quantized in parallel, appended in order.
    const size_t batch = std::max<size_t>(1, 2 * static_cast<size_t>(threads));
    std::vector<std::vector<float>> xs(batch);
    std::vector<PackedBlock> blocks(batch);
    std::vector<Status> status(batch);
    for (uint64_t b0 = 0; b0 < n_blocks; b0 += batch) {
        const size_t nb = static_cast<size_t>(std::min<uint64_t>(batch, n_blocks - b0));
        for (size_t i = 0; i < nb; ++i) {
            const uint64_t row0 = (b0 + i) * rows_per_block;
            const uint64_t n = std::min(rows_per_block, l.rows - row0);
            xs[i].resize(n * l.cols);
            SUTRA_TRY(rows(row0, n, xs[i].data()));
        }
        parallel_for(nb, threads, [&](size_t i) {
            const uint64_t row0 = (b0 + i) * rows_per_block;
            status[i] = quantize_rows(r, row0, xs[i].size() / l.cols, xs[i].data(),
                                      simd::RowFormat::f32, blocks[i], nullptr);
        });
        for (size_t i = 0; i < nb; ++i) {
            SUTRA_TRY(status[i]);
            for (size_t part = 0; part < 3; ++part)
                SUTRA_TRY(w.append(ri, part, blocks[i].parts[part]));
        }
    }
    return {};
}

Status write_codes(const format::QbinRecord& r, size_t ri, format::QbinWriter& w,
                   std::span<const uint8_t> codes, std::span<const uint16_t> scales,
                   std::span<const uint8_t> zeros) {
    const auto& l = r.layout;
    if (codes.size() != l.rows * l.cols || scales.size() != l.rows * l.n_groups ||
        zeros.size() != l.rows * l.n_groups)
        return make_error(Errc::internal, "tensor '" + r.name + "': codes do not fit its layout");
    const simd::Kernels& k = simd::active();
    std::vector<uint8_t> packed(l.qweight_bytes());
    for (uint64_t i = 0; i < l.rows; ++i)
        quant::pack_row_codes(k, codes.data() + i * l.cols, l.cols, l.bits,
                              packed.data() + i * l.row_code_bytes);
    SUTRA_TRY(w.append(ri, 0, packed));
    SUTRA_TRY(w.append(ri, 1,
                       std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(scales.data()),
                                                scales.size() * 2)));
    packed.assign(l.qzeros_bytes(), 0);
    for (uint64_t i = 0; i < l.rows; ++i)
        quant::pack_row_codes(k, zeros.data() + i * l.n_groups, l.n_groups, l.bits,
                              packed.data() + i * l.row_zero_bytes);
    return w.append(ri, 2, packed);
}

Status write_raw_f32(const format::QbinRecord& r, size_t ri, format::QbinWriter& w,
                     std::span<const float> values) {
    if (!dtype_is_float_quantizable(r.dtype))
        return make_error(Errc::internal, "tensor '" + r.name + "' is not a float tensor");
    std::vector<uint8_t> bytes(values.size() * dtype_size(r.dtype));
    for (size_t i = 0; i < values.size(); ++i) {
        if (r.dtype == DType::F32) {
            std::memcpy(bytes.data() + 4 * i, &values[i], 4);
        } else {
            const uint16_t h =
                r.dtype == DType::F16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
            std::memcpy(bytes.data() + 2 * i, &h, 2);
        }
    }
    return w.append(ri, 0, bytes);
}

Status copy_raw(const io::Checkpoint& ck, const io::TensorRef& t, size_t ri, format::QbinWriter& w,
                uint64_t chunk_bytes) {
    std::vector<uint8_t> buf(
        static_cast<size_t>(std::min<uint64_t>(chunk_bytes, std::max<uint64_t>(t.nbytes, 1))));
    for (uint64_t off = 0; off < t.nbytes; off += buf.size()) {
        const size_t len = static_cast<size_t>(std::min<uint64_t>(buf.size(), t.nbytes - off));
        SUTRA_TRY(ck.read_raw(t, off, std::span<uint8_t>(buf.data(), len)));
        SUTRA_TRY(w.append(ri, 0, std::span<const uint8_t>(buf.data(), len)));
    }
    return {};
}

}  // namespace sutra::pipeline
