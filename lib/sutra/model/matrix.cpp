#include "sutra/model/matrix.hpp"

#include <cblas.h>

#include <algorithm>
#include <string>

#include "sutra/base/worker_pool.hpp"
#include "sutra/model/blas.hpp"
#include "sutra/simd/dispatch.hpp"

namespace sutra::model {
namespace {

// Rows of a packed matrix dequantized at a time for sgemm: 64 rows of 4,096 inputs are 1 MiB
// of f32, small enough to stay in cache between the dequantization and the product.
constexpr int64_t kTileRows = 64;
// The packed kernels' work items. Many activation rows (prompts, evaluation) make a product
// compute-bound: items of kRowBlock output (weight) rows, small enough to keep the threads
// busy to the end. Few (generation) make it stream its weights from memory once: contiguous
// runs, kItemsPerThread per thread, a multiple of kRowBlock rows each, so that each core's
// stream of weight bytes stays sequential and the shared item counter is taken a few times per
// product, not once per 16 rows (1B .qbin generate, 2 threads: 27 -> 35 tok/s, prompt the
// same); a few per thread still let a core that falls behind (a shared machine) hand work to
// the others.
constexpr int64_t kRowBlock = 16;
constexpr int64_t kItemsPerThread = 4;

int64_t row_block(int64_t out, unsigned threads) {
    const int64_t items = std::max<int64_t>(1, int64_t{threads} * kItemsPerThread);
    const int64_t per = (out + items - 1) / items;
    return std::max(kRowBlock, (per + kRowBlock - 1) / kRowBlock * kRowBlock);
}
// Activation rows one weight row is multiplied with per call of the row-by-row kernels (the
// weight row is unpacked once per call).
constexpr size_t kTokenBlock = 16;
// Q8 products of at least this many rows go through panels (the token-parallel kernel); a
// partial last panel of fewer rows goes row by row.
constexpr size_t kPanelMinRows = 4;
// Products with at most this many activation rows pass them in nibble order too
// (simd::Q8Rows::qn), which the kernels read for 4-bit rows multiplied in place.
constexpr int64_t kNibbleRows = 2;
// Activation rows quantized per work item.
constexpr int64_t kQuantizeRows = 16;
// Products below this many multiply-adds run on the calling thread alone (waking the pool
// would cost more).
constexpr int64_t kSerialWork = int64_t{1} << 16;

PackedProductOptions& options_slot() {
    static PackedProductOptions o;
    return o;
}

simd::PackedRow packed_row(const quant::PackedMatrix& p, uint64_t r) {
    const quant::QuantLayout& l = p.layout;
    simd::PackedRow row;
    row.codes = p.codes.data() + r * l.row_code_bytes;
    row.scales = p.scales.data() + r * l.n_groups;
    row.zeros = p.zeros.data() + r * l.row_zero_bytes;
    row.cols = static_cast<size_t>(l.cols);
    row.group = static_cast<size_t>(l.group);
    row.n_groups = static_cast<size_t>(l.n_groups);
    row.bits = l.bits;
    return row;
}

// Whether every group (the ragged last one too) is whole Q8 blocks.
bool q8_layout(const quant::QuantLayout& l) {
    return l.cols % simd::kQ8Block == 0 && l.group % simd::kQ8Block == 0;
}

// Runs items [0, n) on the pool, or on this thread when the product is small.
void run_items(WorkerPool& pool, bool serial, size_t n, const std::function<void(size_t)>& fn) {
    if (serial) {
        for (size_t i = 0; i < n; ++i)
            fn(i);
    } else {
        pool.run(n, fn);
    }
}

void matmul_sgemm_tiles(const float* x, int64_t rows, int64_t in, const quant::PackedMatrix& p,
                        int64_t out, float* y, WorkerPool& pool, bool serial) {
    const simd::Kernels& k = simd::active();
    const auto tiles = static_cast<size_t>((out + kTileRows - 1) / kTileRows);
    run_items(pool, serial, tiles, [&](size_t item) {
        const auto o0 = static_cast<int64_t>(item) * kTileRows;
        const int64_t n = std::min(kTileRows, out - o0);
        thread_local std::vector<float> tile;
        tile.resize(static_cast<size_t>(n * in));
        p.dequantize_rows(k, static_cast<uint64_t>(o0), static_cast<uint64_t>(n), tile.data());
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
                    static_cast<int>(n), static_cast<int>(in), 1.0f, x, static_cast<int>(in),
                    tile.data(), static_cast<int>(in), 0.0f, y + o0, static_cast<int>(out));
    });
}

}  // namespace

const char* activation_format_name(ActivationFormat f) {
    return f == ActivationFormat::q8 ? "q8" : "f32";
}

Result<ActivationFormat> parse_activation_format(std::string_view name) {
    if (name == "q8") return ActivationFormat::q8;
    if (name == "f32") return ActivationFormat::f32;
    return make_error(Errc::invalid_argument,
                      "unknown activation format \"" + std::string(name) + "\" (choices: q8, f32)");
}

void set_packed_product_options(const PackedProductOptions& options) {
    options_slot() = options;
}

const PackedProductOptions& packed_product_options() {
    return options_slot();
}

void matmul_wt(const float* x, int64_t rows, int64_t in, const Matrix& w, int64_t out, float* y) {
    if (!w.packed) {
        matmul_wt(x, rows, in, w.data(), out, y);
        return;
    }
    if (rows <= 0 || out <= 0) return;
    const quant::PackedMatrix& p = *w.packed;
    const PackedProductOptions& opt = options_slot();
    const simd::Kernels& k = simd::active();
    const bool q8 = opt.activations == ActivationFormat::q8 && q8_layout(p.layout);
    const bool serial = rows * in * out < kSerialWork;
    WorkerPool& pool = shared_pool(opt.threads);
    if (!q8 && rows >= opt.f32_sgemm_rows) {
        matmul_sgemm_tiles(x, rows, in, p, out, y, pool, serial);
        return;
    }

    // Q8: every activation row quantized once, into buffers of the calling thread (the items
    // below only read them).
    const auto cols = static_cast<size_t>(in);
    const size_t nb = cols / simd::kQ8Block;
    thread_local std::vector<int8_t> q;
    thread_local std::vector<float> d;
    thread_local std::vector<int32_t> sums;
    if (q8) {
        q.resize(static_cast<size_t>(rows) * cols);
        d.resize(static_cast<size_t>(rows) * nb);
        sums.resize(static_cast<size_t>(rows) * nb);
        int8_t* qp = q.data();
        float* dp = d.data();
        int32_t* sp = sums.data();
        const auto items = static_cast<size_t>((rows + kQuantizeRows - 1) / kQuantizeRows);
        run_items(pool, serial || rows < 2 * kQuantizeRows, items, [&](size_t item) {
            const auto r0 = static_cast<int64_t>(item) * kQuantizeRows;
            const int64_t r1 = std::min(rows, r0 + kQuantizeRows);
            for (int64_t r = r0; r < r1; ++r) {
                const auto ur = static_cast<size_t>(r);
                k.quantize_q8(x + ur * cols, cols, qp + ur * cols, dp + ur * nb, sp + ur * nb);
            }
        });
    }
    const int8_t* qp = q.data();
    const float* dp = d.data();
    const int32_t* sp = sums.data();
    const auto yst = static_cast<size_t>(out);
    // A 4-bit matrix times one or two rows (generation): the rows also in nibble order, so the
    // kernel multiplies the packed bytes in place (the same bits either way).
    thread_local std::vector<int8_t> qn;
    const int8_t* qnp = nullptr;
    if (q8 && p.layout.bits == 4 && rows <= kNibbleRows && cols % simd::kQ8NibbleChunk == 0) {
        qn.resize(static_cast<size_t>(rows) * cols);
        for (size_t r = 0; r < static_cast<size_t>(rows); ++r)
            simd::q8_nibble_order(qp + r * cols, cols, qn.data() + r * cols);
        qnp = qn.data();
    }

    // Q8 with many rows: whole panels of kQ8Panel rows (and a last, partial one of at least
    // kPanelMinRows), the rest row by row. Either kernel gives the same bits for a row.
    constexpr size_t kPanel = simd::kQ8Panel;
    const size_t urows = static_cast<size_t>(rows);
    size_t panels = 0;
    if (q8 && urows >= kPanelMinRows)
        panels = urows / kPanel + (urows % kPanel >= kPanelMinRows ? 1 : 0);
    const size_t panel_rows = std::min(urows, panels * kPanel);
    thread_local std::vector<int8_t> pq;
    thread_local std::vector<float> pd, psum;
    // The buffers are the calling thread's: the items below (on the pool's threads) reach
    // them only through these pointers.
    int8_t* pqp = nullptr;
    float* pdp = nullptr;
    float* psp = nullptr;
    if (panels) {
        pq.resize(panels * kPanel * cols);
        pd.resize(panels * kPanel * nb);
        psum.resize(panels * kPanel * nb);
        pqp = pq.data();
        pdp = pd.data();
        psp = psum.data();
        run_items(pool, serial || panels < 2, panels, [&](size_t i) {
            const size_t t0 = i * kPanel;
            const simd::Q8Rows xr{qp + t0 * cols, dp + t0 * nb, sp + t0 * nb, cols};
            simd::make_q8_panel(xr, std::min(kPanel, urows - t0), pqp + i * kPanel * cols,
                                pdp + i * kPanel * nb, psp + i * kPanel * nb);
        });
    }

    const auto rows_of = [&](int64_t o0, int64_t o1) {
        for (size_t i = 0; i < panels; ++i) {
            const size_t t0 = i * kPanel;
            const simd::Q8Panel xp{pqp + i * kPanel * cols, pdp + i * kPanel * nb,
                                   psp + i * kPanel * nb, cols};
            const size_t n = std::min(kPanel, urows - t0);
            for (int64_t o = o0; o < o1; ++o)
                k.packed_dot_q8_panel(packed_row(p, static_cast<uint64_t>(o)), xp, n,
                                      y + t0 * yst + static_cast<size_t>(o), yst);
        }
        for (size_t t0 = panel_rows; t0 < urows; t0 += kTokenBlock) {
            const size_t n = std::min(kTokenBlock, urows - t0);
            float* yt = y + t0 * yst;
            for (int64_t o = o0; o < o1; ++o) {
                const simd::PackedRow r = packed_row(p, static_cast<uint64_t>(o));
                if (q8) {
                    const simd::Q8Rows xr{qp + t0 * cols, dp + t0 * nb, sp + t0 * nb, cols,
                                          qnp ? qnp + t0 * cols : nullptr};
                    k.packed_dot_q8(r, xr, n, yt + o, yst);
                } else {
                    k.packed_dot_f32(r, x + t0 * cols, cols, n, yt + o, yst);
                }
            }
        }
    };
    if (urows <= kTokenBlock) {
        const int64_t block = row_block(out, pool.threads());
        const auto items = static_cast<size_t>((out + block - 1) / block);
        run_items(pool, serial, items, [&](size_t item) {
            const auto o0 = static_cast<int64_t>(item) * block;
            rows_of(o0, std::min(out, o0 + block));
        });
        return;
    }
    const auto items = static_cast<size_t>((out + kRowBlock - 1) / kRowBlock);
    run_items(pool, serial, items, [&](size_t item) {
        const auto o0 = static_cast<int64_t>(item) * kRowBlock;
        rows_of(o0, std::min(out, o0 + kRowBlock));
    });
}

}  // namespace sutra::model
