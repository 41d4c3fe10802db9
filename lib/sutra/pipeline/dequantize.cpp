#include "sutra/pipeline/dequantize.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>

#include "sutra/base/half.hpp"
#include "sutra/format/qbin_reader.hpp"
#include "sutra/io/output_file.hpp"
#include "sutra/io/safetensors_writer.hpp"

namespace sutra::pipeline {

Result<std::optional<DType>> parse_dequantize_dtype(const std::string& text) {
    std::string t = text;
    std::transform(t.begin(), t.end(), t.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (t == "f32") return std::optional<DType>(DType::F32);
    if (t == "f16") return std::optional<DType>(DType::F16);
    if (t == "bf16") return std::optional<DType>(DType::BF16);
    if (t == "original") return std::optional<DType>();
    return make_error(Errc::invalid_argument,
                      "--dtype must be f32, f16, bf16 or original, not \"" + text + "\"");
}

namespace {

void encode_f32(const float* x, size_t n, DType to, uint8_t* out) {
    if (to == DType::F32) {
        std::memcpy(out, x, n * 4);
        return;
    }
    for (size_t i = 0; i < n; ++i) {
        const uint16_t h = to == DType::F16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
    }
}

}  // namespace

Result<DequantizeReport> run_dequantize(const DequantizeOptions& opt, ProgressObserver* progress) {
    const auto t0 = std::chrono::steady_clock::now();
    SUTRA_ASSIGN(format::QbinFile q, format::QbinFile::open(opt.input));
    SUTRA_ASSIGN(auto damage, q.verify_data());
    if (!damage.empty())
        return make_error(Errc::corrupt,
                          opt.input.string() + ": tensor '" + damage.front().record +
                              "' is damaged (checksum of '" + damage.front().stored +
                              "' does not match); run `sutra validate` for the full list");

    // Output dtypes and header.
    std::vector<io::OutTensor> outs;
    std::vector<DType> out_dtype;
    for (const auto& r : q.records()) {
        DType d = r.dtype;
        if (opt.dtype && dtype_is_float_quantizable(r.dtype)) d = *opt.dtype;
        const uint64_t n = dtype_nbytes(d, r.shape).value_or(0);  // sub-byte dtypes too
        outs.push_back({r.name, d, r.shape, n});
        out_dtype.push_back(d);
    }
    std::vector<std::pair<std::string, std::string>> meta;
    const auto& src = q.profile().contains("source") ? q.profile()["source"] : nlohmann::json();
    if (src.is_object() && src.contains("metadata") && src["metadata"].is_object())
        for (const auto& [k, v] : src["metadata"].items())
            if (v.is_string()) meta.emplace_back(k, v.get<std::string>());
    const std::string header = io::build_safetensors_header(meta, outs);
    const std::string prefix = io::header_length_prefix(header.size());

    SUTRA_ASSIGN(io::OutputFile out, io::OutputFile::create(opt.output, opt.force, {opt.input}));
    SUTRA_TRY(out.write_at(0, {reinterpret_cast<const uint8_t*>(prefix.data()), 8}));
    SUTRA_TRY(out.write_at(8, {reinterpret_cast<const uint8_t*>(header.data()), header.size()}));
    uint64_t pos = 8 + header.size();
    uint64_t total = 0;
    for (const auto& o : outs)
        total += o.nbytes;
    if (progress) progress->on_stage("dequantize", total);

    std::vector<float> rows;
    std::vector<uint8_t> bytes;
    for (size_t i = 0; i < q.records().size(); ++i) {
        const auto& r = q.records()[i];
        const DType d = out_dtype[i];
        if (!r.quantized && d == r.dtype) {  // unchanged: copy stored bytes
            const auto& t = q.stored_ref(r, 0);
            bytes.resize(static_cast<size_t>(std::min<uint64_t>(t.nbytes, 16u << 20)));
            for (uint64_t off = 0; off < t.nbytes; off += bytes.size()) {
                const size_t len =
                    static_cast<size_t>(std::min<uint64_t>(bytes.size(), t.nbytes - off));
                SUTRA_TRY(q.container().read_raw(t, off, std::span<uint8_t>(bytes.data(), len)));
                SUTRA_TRY(out.write_at(pos, std::span<const uint8_t>(bytes.data(), len)));
                pos += len;
            }
        } else {
            const uint64_t nr = format::QbinFile::rows_of(r), nc = format::QbinFile::cols_of(r);
            const uint64_t block = std::max<uint64_t>(1, (4u << 20) / std::max<uint64_t>(nc, 1));
            for (uint64_t r0 = 0; r0 < nr && nc > 0; r0 += block) {
                const uint64_t n = std::min(block, nr - r0);
                rows.resize(n * nc);
                bytes.resize(n * nc * dtype_size(d));
                SUTRA_TRY(q.read_rows_f32(r, r0, n, rows.data()));
                encode_f32(rows.data(), rows.size(), d, bytes.data());
                SUTRA_TRY(out.write_at(pos, bytes));
                pos += bytes.size();
            }
        }
        if (progress) progress->on_progress(r.name, pos - 8 - header.size());
    }
    if (progress) progress->on_stage_end();
    SUTRA_TRY(q.container().check_unchanged());
    SUTRA_TRY(out.commit());
    DequantizeReport rep;
    rep.output = opt.output.string();
    rep.tensors = outs.size();
    rep.output_file_bytes = pos;
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return rep;
}

}  // namespace sutra::pipeline
