#pragma once
// Writing one record of a .qbin from f32 rows: quantized (round-to-nearest of whatever rows
// the source gives: the checkpoint's, or AWQ-transformed ones) or raw (encoded back into the
// record's dtype), plus the plain byte copy of unchanged tensors.
#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "sutra/base/error.hpp"
#include "sutra/format/qbin_writer.hpp"
#include "sutra/io/checkpoint.hpp"
#include "sutra/pipeline/stage_times.hpp"
#include "sutra/simd/kernels.hpp"

namespace sutra::pipeline {

// Fills out[n * cols] with rows [row0, row0 + n).
using RowSource = std::function<Status(uint64_t row0, uint64_t n, float* out)>;

// Rows of an in-memory matrix [*, cols]; `values` must outlive the source.
RowSource rows_from(std::span<const float> values, uint64_t cols);

// One row block of a quantized record, packed: the bytes of its qweight, scales and qzeros.
struct PackedBlock {
    std::array<std::vector<uint8_t>, 3> parts;
};

// Quantizes rows [row0, row0 + n) of record r, given as values[n * cols] in `format` (the
// checkpoint's bytes as read, or f32 rows), with the active kernels' rtn_row into `out`, one
// pass per row from the stored values to the packed bytes. Times go to `times` (may be null),
// all under Stage::quantize. A NaN/infinite value or a group too wide for an F16 scale is an
// error naming the element.
Status quantize_rows(const format::QbinRecord& r, uint64_t row0, uint64_t n, const void* values,
                     simd::RowFormat format, PackedBlock& out, StageTimes* times);

// Quantizes record `ri` (r.layout) a row block at a time (chunk_bytes of f32 each), blocks
// spread over `threads` threads; the bytes do not depend on their number.
Status write_quantized(const format::QbinRecord& r, size_t ri, format::QbinWriter& w,
                       const RowSource& rows, uint64_t chunk_bytes, unsigned threads = 1);
// Writes a quantized record from codes already chosen (GPTQ): codes [rows, cols] and zeros
// [rows, n_groups] unpacked, scales [rows, n_groups] F16 bits, all in r.layout.
Status write_codes(const format::QbinRecord& r, size_t ri, format::QbinWriter& w,
                   std::span<const uint8_t> codes, std::span<const uint16_t> scales,
                   std::span<const uint8_t> zeros);
// Writes f32 values as record `ri`'s stored tensor in its dtype (F32, F16 or BF16).
Status write_raw_f32(const format::QbinRecord& r, size_t ri, format::QbinWriter& w,
                     std::span<const float> values);
// Copies tensor t's bytes unchanged as record `ri`.
Status copy_raw(const io::Checkpoint& ck, const io::TensorRef& t, size_t ri, format::QbinWriter& w,
                uint64_t chunk_bytes);

}  // namespace sutra::pipeline
