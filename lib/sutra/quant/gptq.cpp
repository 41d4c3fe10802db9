#include "sutra/quant/gptq.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "sutra/base/thread_pool.hpp"
#include "sutra/model/blas.hpp"
#include "sutra/quant/rtn.hpp"

extern "C" {
// LAPACK (OpenBLAS ships it), column-major: Cholesky factor, triangular inverse.
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info, size_t len);
void dtrtri_(const char* uplo, const char* diag, const int* n, double* a, const int* lda, int* info,
             size_t uplo_len, size_t diag_len);
}

namespace sutra::quant {
namespace {

constexpr uint64_t kTile = 256;     // HessianSum: columns per product tile
constexpr uint64_t kRowBlock = 64;  // gptq_quantize: rows per work item

std::string element(const std::string& what, uint64_t r, uint64_t c) {
    return what + " [" + std::to_string(r) + ", " + std::to_string(c) + "]";
}

std::string number_text(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// A (row, group) scale and zero point on RTN's grid.
struct GroupParams {
    uint16_t s16 = 0;
    float scale = 0, zero = 0;
};

}  // namespace

HessianSum::HessianSum(uint64_t cols) : cols_(cols), h_(cols * cols, 0.0) {}

void HessianSum::add(const float* x, uint64_t n, unsigned threads) {
    if (n == 0) return;
    const uint64_t nt = (cols_ + kTile - 1) / kTile;
    std::vector<std::pair<uint64_t, uint64_t>> tiles;  // (bi, bj), bi <= bj
    for (uint64_t bi = 0; bi < nt; ++bi)
        for (uint64_t bj = bi; bj < nt; ++bj)
            tiles.emplace_back(bi, bj);
    const model::SingleThreadedBlas single_threaded;
    parallel_for(tiles.size(), threads, [&](size_t t) {
        const uint64_t i0 = tiles[t].first * kTile, j0 = tiles[t].second * kTile;
        const uint64_t mi = std::min(kTile, cols_ - i0), mj = std::min(kTile, cols_ - j0);
        std::vector<float> c(mi * mj);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(mi),
                    static_cast<int>(mj), static_cast<int>(n), 1.0f, x + i0,
                    static_cast<int>(cols_), x + j0, static_cast<int>(cols_), 0.0f, c.data(),
                    static_cast<int>(mj));
        // Only the upper triangle is taken, and mirrored, so the sum stays exactly symmetric.
        for (uint64_t a = 0; a < mi; ++a)
            for (uint64_t b = (i0 == j0 ? a : 0); b < mj; ++b) {
                const double v = c[a * mj + b];
                h_[(i0 + a) * cols_ + j0 + b] += v;
                if (i0 + a != j0 + b) h_[(j0 + b) * cols_ + i0 + a] += v;
            }
    });
    samples_ += n;
}

HessianSum HessianSum::divided_by(std::span<const float> s) const {
    HessianSum r(cols_);
    r.samples_ = samples_;
    for (uint64_t i = 0; i < cols_; ++i)
        for (uint64_t j = 0; j < cols_; ++j)
            r.h_[i * cols_ + j] =
                h_[i * cols_ + j] / (static_cast<double>(s[i]) * static_cast<double>(s[j]));
    return r;
}

Result<GptqFactor> gptq_factor(const HessianSum& hs, const GptqOptions& opt,
                               const std::string& what) {
    const uint64_t n = hs.cols();
    if (opt.block == 0) return make_error(Errc::invalid_argument, "GPTQ block size must be >= 1");
    if (!(opt.damp >= 0.0 && opt.damp < 1e6))
        return make_error(Errc::invalid_argument,
                          "--gptq-damp must be a non-negative number (default 0.01)");
    if (n > static_cast<uint64_t>(std::numeric_limits<int>::max() / 2))
        return make_error(Errc::unsupported, what + ": input too wide for GPTQ");
    GptqFactor f;
    f.cols = n;
    f.act_order = opt.act_order;
    f.block = opt.block;
    std::vector<double> h = hs.sum();
    f.dead.assign(n, 0);
    for (uint64_t j = 0; j < n; ++j)
        if (h[j * n + j] == 0.0) {
            f.dead[j] = 1;
            h[j * n + j] = 1.0;
        }
    f.perm.resize(n);
    std::iota(f.perm.begin(), f.perm.end(), 0u);
    if (opt.act_order) {
        std::stable_sort(f.perm.begin(), f.perm.end(), [&](uint32_t a, uint32_t b) {
            return h[uint64_t{a} * n + a] > h[uint64_t{b} * n + b];
        });
        std::vector<double> p(n * n);
        for (uint64_t i = 0; i < n; ++i)
            for (uint64_t j = 0; j < n; ++j)
                p[i * n + j] = h[uint64_t{f.perm[i]} * n + f.perm[j]];
        h.swap(p);
    }
    double mean_diag = 0;
    for (uint64_t j = 0; j < n; ++j)
        mean_diag += h[j * n + j];
    mean_diag /= static_cast<double>(n);
    for (uint64_t j = 0; j < n; ++j)
        h[j * n + j] += opt.damp * mean_diag;

    // U, the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), from one Cholesky factorisation and one
    // triangular inverse: with J the reversal permutation, factor JHJ = L Lᵀ (L lower); then
    // H = R Rᵀ with R = JLJ upper, so H⁻¹ = R⁻ᵀR⁻¹ and U = R⁻¹ = J L⁻¹ J (upper, positive
    // diagonal, hence the unique factor). Half the work of factor, invert, factor again.
    // The reversed matrix is symmetric, so its row-major array is also its column-major one.
    std::vector<double> hr(n * n);
    for (uint64_t i = 0; i < n; ++i)
        for (uint64_t j = 0; j < n; ++j)
            hr[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
    h = {};
    const model::SingleThreadedBlas single_threaded;
    const int ni = static_cast<int>(n);
    int info = 0;
    const char lower = 'L', non_unit = 'N';
    dpotrf_(&lower, &ni, hr.data(), &ni, &info, 1);
    if (info != 0)
        return make_error(Errc::invalid_argument,
                          what + ": GPTQ's Hessian is not positive definite (leading minor " +
                              std::to_string(info) +
                              " of the reversed matrix); raise --gptq-damp (now " +
                              number_text(opt.damp) + ") or calibrate on more tokens");
    dtrtri_(&lower, &non_unit, &ni, hr.data(), &ni, &info, 1, 1);
    if (info != 0)
        return make_error(Errc::invalid_argument,
                          what + ": GPTQ's Cholesky factor is singular; raise --gptq-damp (now " +
                              number_text(opt.damp) + ") or calibrate on more tokens");
    // Column-major lower L⁻¹: element (r, c), r >= c, at [r + c n]; U[i][j] = L⁻¹[n-1-i][n-1-j].
    f.u.assign(n * n, 0.0f);
    for (uint64_t i = 0; i < n; ++i)
        for (uint64_t j = i; j < n; ++j)
            f.u[i * n + j] = static_cast<float>(hr[(n - 1 - i) + (n - 1 - j) * n]);
    for (uint64_t j = 0; j < n; ++j)
        if (!(f.u[j * n + j] > 0.0f) || !std::isfinite(f.u[j * n + j]))
            return make_error(Errc::invalid_argument,
                              what +
                                  ": GPTQ's inverse Hessian factor has a zero or non-finite "
                                  "diagonal; raise --gptq-damp or calibrate on more tokens");
    return f;
}

Result<GptqResult> gptq_quantize(std::span<const float> w, const QuantLayout& l,
                                 const GptqFactor& f, const std::string& what, unsigned threads) {
    const uint64_t rows = l.rows, cols = l.cols;
    if (cols != f.cols || w.size() != rows * cols)
        return make_error(Errc::internal, what + ": GPTQ factor and weight shapes differ");
    for (uint64_t i = 0; i < w.size(); ++i)
        if (!std::isfinite(w[i]))
            return make_error(Errc::bad_format, element(what, i / cols, i % cols) + " is " +
                                                    std::to_string(w[i]) +
                                                    "; the checkpoint holds a non-finite weight");
    const float qmax = static_cast<float>((1u << l.bits) - 1u);
    const uint64_t block = f.block;
    GptqResult res;
    res.codes.assign(rows * cols, 0);
    res.scales.assign(rows * l.n_groups, 0);
    res.zeros.assign(rows * l.n_groups, 0);
    std::vector<int32_t> group_of(cols);  // by visiting position: the original column's group
    for (uint64_t j = 0; j < cols; ++j)
        group_of[j] = static_cast<int32_t>(f.perm[j] / l.group);

    const uint64_t items = (rows + kRowBlock - 1) / kRowBlock;
    std::vector<std::string> errors(items);
    const model::SingleThreadedBlas single_threaded;
    parallel_for(items, threads, [&](size_t item) {
        const uint64_t r0 = item * kRowBlock, nr = std::min(kRowBlock, rows - r0);
        // The rows' weights in visiting order, dead columns zeroed.
        std::vector<float> wp(nr * cols), err(nr * block);
        for (uint64_t r = 0; r < nr; ++r)
            for (uint64_t j = 0; j < cols; ++j)
                wp[r * cols + j] = f.dead[f.perm[j]] ? 0.0f : w[(r0 + r) * cols + f.perm[j]];
        std::vector<GroupParams> gp(nr * l.n_groups);
        const auto set_group = [&](uint64_t r, uint64_t g, float lo, float hi) {
            GroupParams p;
            if (!rtn_group_params(lo, hi, qmax, &p.s16, &p.scale, &p.zero)) {
                errors[item] = element(what, r0 + r, g * l.group) +
                               ": the group's range does not fit an F16 scale";
                return false;
            }
            gp[r * l.n_groups + g] = p;
            res.scales[(r0 + r) * l.n_groups + g] = p.s16;
            res.zeros[(r0 + r) * l.n_groups + g] = static_cast<uint8_t>(p.zero);
            return true;
        };
        if (f.act_order) {
            // Static groups, from the dead-zeroed weights in the original order.
            for (uint64_t r = 0; r < nr; ++r)
                for (uint64_t g = 0; g < l.n_groups; ++g) {
                    float lo = 0, hi = 0;
                    for (uint64_t c = g * l.group; c < g * l.group + l.group_width(g); ++c) {
                        const float v = f.dead[c] ? 0.0f : w[(r0 + r) * cols + c];
                        lo = c == g * l.group ? v : std::min(lo, v);
                        hi = c == g * l.group ? v : std::max(hi, v);
                    }
                    if (!set_group(r, g, lo, hi)) return;
                }
        }
        for (uint64_t i1 = 0; i1 < cols; i1 += block) {
            const uint64_t i2 = std::min(cols, i1 + block), bs = i2 - i1;
            for (uint64_t r = 0; r < nr; ++r) {
                float* wr = &wp[r * cols];
                float* er = &err[r * block];
                for (uint64_t j = i1; j < i2; ++j) {
                    if (!f.act_order && j % l.group == 0) {
                        // The group's weights as updated by every earlier column: those past
                        // this block still lack this block's updates, applied here.
                        const uint64_t g = j / l.group, end = j + l.group_width(g);
                        float lo = wr[j], hi = wr[j];
                        for (uint64_t c = j; c < end; ++c) {
                            float v = wr[c];
                            if (c >= i2)
                                for (uint64_t m = i1; m < j; ++m)
                                    v -= er[m - i1] * f.u[m * cols + c];
                            lo = std::min(lo, v);
                            hi = std::max(hi, v);
                        }
                        if (!set_group(r, g, lo, hi)) return;
                    }
                    const auto g = static_cast<uint64_t>(group_of[j]);
                    const GroupParams& p = gp[r * l.n_groups + g];
                    const float q = std::clamp(std::rint(wr[j] / p.scale) + p.zero, 0.0f, qmax);
                    res.codes[(r0 + r) * cols + f.perm[j]] = static_cast<uint8_t>(q);
                    const float e = (wr[j] - (q - p.zero) * p.scale) / f.u[j * cols + j];
                    er[j - i1] = e;
                    const float* uj = &f.u[j * cols];
                    for (uint64_t k = j + 1; k < i2; ++k)
                        wr[k] -= e * uj[k];
                }
            }
            if (i2 < cols)  // the lazy batch: W[:, i2:] -= E · U[i1:i2, i2:]
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(nr),
                            static_cast<int>(cols - i2), static_cast<int>(bs), -1.0f, err.data(),
                            static_cast<int>(block), &f.u[i1 * cols + i2], static_cast<int>(cols),
                            1.0f, &wp[i2], static_cast<int>(cols));
        }
    });
    for (const auto& e : errors)
        if (!e.empty()) return make_error(Errc::bad_format, e);
    return res;
}

std::vector<float> gptq_dequantize(const GptqResult& r, const QuantLayout& l) {
    std::vector<float> out(l.rows * l.cols);
    for (uint64_t row = 0; row < l.rows; ++row)
        dequantize_row(&r.codes[row * l.cols], &r.scales[row * l.n_groups],
                       &r.zeros[row * l.n_groups], l, &out[row * l.cols]);
    return out;
}

double hessian_output_error(const std::vector<float>& a, const std::vector<float>& b,
                            const HessianSum& s, uint64_t rows, unsigned threads) {
    const uint64_t n = s.cols();
    std::vector<double> per_row(rows);
    parallel_for(rows, threads, [&](size_t r) {
        std::vector<double> d(n);
        for (uint64_t c = 0; c < n; ++c)
            d[c] = static_cast<double>(a[r * n + c]) - static_cast<double>(b[r * n + c]);
        double e = 0;
        for (uint64_t i = 0; i < n; ++i) {
            if (d[i] == 0.0) continue;
            const double* hi = &s.sum()[i * n];
            double t = 0;
            for (uint64_t j = 0; j < n; ++j)
                t += hi[j] * d[j];
            e += d[i] * t;
        }
        per_row[r] = e;
    });
    double e = 0;
    for (double v : per_row)
        e += v;
    return e;
}

}  // namespace sutra::quant
