// Scale searches shared by the GGUF block encoders (declared in ggml_blocks.hpp).
//
// Both searches minimise the weighted squared error E = sum_i w_i (x_i - dec_i)^2 of one
// (sub-)block over a grid of candidate code assignments, and for each candidate take the
// least-squares parameters for those codes in closed form, so a candidate costs one pass:
//
//   symmetric, dec = s q, q in [lo, hi]:
//     candidate k maps the max-abs element xm to the target t_k = base + sign(base) step k
//     (base = lo or hi: xm at the negative or the positive end of the code range; k < 0
//     leaves head-room, k > 0 clips xm), q_i = clamp(nearest(x_i t_k / xm)).
//     s* = B / C with B = sum w x q, C = sum w q^2, and E(s) = A - 2 s B + s^2 C (A = sum w x^2),
//     evaluated at s = F16(s*) when the scale is stored as an F16.
//   affine, dec = d q + b, q in [0, nmax]:
//     candidate k spreads [min, max] over nmax + step k levels, anchored at the low end
//     (q = nearest((x - min) is)) or at the high end (q = nmax - nearest((max - x) is)).
//     (d, b) solve the 2x2 normal equations; with b <= 0 imposed (k-quants store b = -min,
//     min >= 0) and b* > 0 the fit becomes b = 0, d = sum w x q / sum w q^2.
//
// The best candidate is then refined twice: codes re-rounded for its parameters (the
// per-element nearest code is optimal for fixed parameters whatever the weights), parameters
// refitted for those codes; a refinement is kept only when it lowers E. Sums are in double.
// Everything is a pure function of the inputs (no threads, no state): identical results on
// every machine.
#include <cmath>
#include <limits>

#include "sutra/quant/ggml_blocks.hpp"

namespace sutra::quant::ggml {
namespace {

// Candidate passes run over 8 fixed lanes (n is a multiple of 8) so that the compiler can
// keep them in vector registers; the lanes are summed in a fixed order, so the result does
// not depend on how the loop is compiled.
constexpr int kLanes = 8;

double lane_sum(const float* a) {
    double s = 0;
    for (int l = 0; l < kLanes; ++l)
        s += static_cast<double>(a[l]);
    return s;
}

// Nearest (ties to even) of v clamped to [lo, hi], as a float; NaN gives lo.
inline float nearest_f(float v, float lo, float hi) {
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    return (v + 12582912.0f) - 12582912.0f;
}

struct SymSums {
    double b = 0, c = 0;
};

// B = sum wx q, C = sum w q^2 for q = nearest(x iscale) in [lo, hi].
SymSums sym_sums(const float* x, const float* wx, const float* w, int n, float iscale, float lo,
                 float hi) {
    float b[kLanes] = {}, c[kLanes] = {};
    for (int i = 0; i < n; i += kLanes) {
        for (int l = 0; l < kLanes; ++l) {
            const float q = nearest_f(x[i + l] * iscale, lo, hi);
            b[l] += wx[i + l] * q;
            c[l] += w[i + l] * q * q;
        }
    }
    return {lane_sum(b), lane_sum(c)};
}

// The judged scale for sums s and its error; false when the candidate is unusable.
bool sym_eval(const SymSums& s, double a, bool f16_scale, float* scale, double* err) {
    if (!(s.c > 0)) return false;
    float sc = static_cast<float>(s.b / s.c);
    if (f16_scale) sc = round_f16(sc);
    if (!std::isfinite(sc) || sc == 0.0f) return false;
    const double d = sc;
    *scale = sc;
    *err = a - 2 * d * s.b + d * d * s.c;
    return true;
}

struct AffSums {
    double q = 0, qq = 0, xq = 0;
};

struct AffTotals {
    double w = 0, x = 0, xx = 0;
};

// Sums for q = nearest(x * mul + add) in [0, nmax].
AffSums aff_sums(const float* x, const float* wx, const float* w, int n, float mul, float add,
                 float nmax) {
    float q1[kLanes] = {}, q2[kLanes] = {}, xq[kLanes] = {};
    for (int i = 0; i < n; i += kLanes) {
        for (int l = 0; l < kLanes; ++l) {
            const float q = nearest_f(x[i + l] * mul + add, 0.0f, nmax);
            q1[l] += w[i + l] * q;
            q2[l] += w[i + l] * q * q;
            xq[l] += wx[i + l] * q;
        }
    }
    return {lane_sum(q1), lane_sum(q2), lane_sum(xq)};
}

bool aff_eval(const AffSums& s, const AffTotals& t, bool b_nonpositive, bool f16_params,
              Affine* out, double* err) {
    const double det = s.qq * t.w - s.q * s.q;
    if (!(det > 0)) return false;
    double d = (t.w * s.xq - s.q * t.x) / det;
    double b = (s.qq * t.x - s.q * s.xq) / det;
    if (b_nonpositive && b > 0) {
        b = 0;
        d = s.xq / s.qq;
    }
    if (!(d > 0)) return false;
    float df = static_cast<float>(d), bf = static_cast<float>(b);
    if (f16_params) {
        df = round_f16(df);
        bf = round_f16(bf);
    }
    if (!std::isfinite(df) || !std::isfinite(bf) || df == 0.0f) return false;
    d = df;
    b = bf;
    out->d = df;
    out->b = bf;
    *err = t.xx - 2 * d * s.xq - 2 * b * t.x + d * d * s.qq + 2 * d * b * s.q + b * b * t.w;
    return true;
}

}  // namespace

float fit_symmetric(const float* x, const float* w, int n, int lo, int hi, float step, int steps,
                    bool f16_scale) {
    float amax = 0, xm = 0;
    double a = 0;
    float wx[256];
    for (int i = 0; i < n; ++i) {
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            xm = x[i];
        }
        wx[i] = w[i] * x[i];
        a += static_cast<double>(wx[i]) * static_cast<double>(x[i]);
    }
    if (!(amax > 1e-30f)) return 0.0f;
    const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
    double best_err = std::numeric_limits<double>::infinity();
    float best = xm / flo;  // kept only if no candidate is usable (sums overflowing a float)
    const int bases[2] = {lo, hi};
    const int n_orient = lo == -hi ? 1 : 2;
    for (int o = 0; o < n_orient; ++o) {
        const float base = static_cast<float>(bases[o]);
        const float dir = base < 0 ? -1.0f : 1.0f;
        for (int k = -steps; k <= steps; ++k) {
            const float iscale = (base + dir * step * static_cast<float>(k)) / xm;
            float sc = 0;
            double err = 0;
            if (sym_eval(sym_sums(x, wx, w, n, iscale, flo, fhi), a, f16_scale, &sc, &err) &&
                err < best_err) {
                best_err = err;
                best = sc;
            }
        }
    }
    for (int it = 0; it < 2 && std::isfinite(best_err); ++it) {
        float sc = 0;
        double err = 0;
        if (!sym_eval(sym_sums(x, wx, w, n, 1.0f / best, flo, fhi), a, f16_scale, &sc, &err) ||
            !(err < best_err))
            break;
        best_err = err;
        best = sc;
    }
    return best;
}

Affine fit_affine(const float* x, const float* w, int n, int nmax, float step, int steps,
                  bool b_nonpositive, bool f16_params) {
    float mn = x[0], mx = x[0];
    AffTotals t;
    float wx[256];
    for (int i = 0; i < n; ++i) {
        mn = std::min(mn, x[i]);
        mx = std::max(mx, x[i]);
        wx[i] = w[i] * x[i];
        t.w += static_cast<double>(w[i]);
        t.x += static_cast<double>(wx[i]);
        t.xx += static_cast<double>(wx[i]) * static_cast<double>(x[i]);
    }
    if (b_nonpositive) mn = std::min(mn, 0.0f);
    if (!(mx > mn)) return Affine{0.0f, mn};
    const float range = mx - mn;
    const float fn = static_cast<float>(nmax);
    Affine best{range / fn, mn};
    double best_err = std::numeric_limits<double>::infinity();
    for (int anchor = 0; anchor < 2; ++anchor) {
        for (int k = -steps; k <= steps; ++k) {
            const float is = (fn + step * static_cast<float>(k)) / range;
            // low anchor: q = (x - mn) is; high anchor: q = nmax - (mx - x) is.
            const float add = anchor == 0 ? -mn * is : fn - mx * is;
            Affine p;
            double err = 0;
            if (aff_eval(aff_sums(x, wx, w, n, is, add, fn), t, b_nonpositive, f16_params, &p,
                         &err) &&
                err < best_err) {
                best_err = err;
                best = p;
            }
        }
    }
    if (!std::isfinite(best_err)) return best;
    for (int it = 0; it < 2; ++it) {
        const float inv = 1.0f / best.d;
        Affine p;
        double err = 0;
        if (!aff_eval(aff_sums(x, wx, w, n, inv, -best.b * inv, fn), t, b_nonpositive, f16_params,
                      &p, &err) ||
            !(err < best_err))
            break;
        best_err = err;
        best = p;
    }
    return best;
}

}  // namespace sutra::quant::ggml
