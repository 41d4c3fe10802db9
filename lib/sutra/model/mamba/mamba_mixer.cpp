#include "sutra/model/mamba/mamba_mixer.hpp"

#include <cmath>
#include <cstring>

#include "sutra/model/blas.hpp"
#include "sutra/model/mamba/mamba_scan.hpp"

namespace sutra::model::mamba {
namespace {

const float* tensor(const BlockTensors& w, std::string_view name) {
    const Matrix* v = w.find(name);
    return v ? v->data() : nullptr;
}

// A projection's weight (check_block_tensors has checked it is there).
const Matrix& matrix(const BlockTensors& w, std::string_view name) {
    return *w.find(name);
}

// y [rows, out] = x [rows, in] W^T (+ bias).
void linear(const float* x, int64_t rows, int64_t in, const Matrix& w, int64_t out,
            const float* bias, float* y) {
    matmul_wt(x, rows, in, w, out, y);
    if (!bias) return;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < out; ++c)
            y[r * out + c] += bias[c];
}

}  // namespace

LayerState initial_layer_state(const MambaConfig& c) {
    LayerState s;
    s.conv.assign(static_cast<size_t>((c.conv - 1) * c.inner), 0.0f);
    s.ssm.assign(static_cast<size_t>(c.inner * c.state), 0.0f);
    return s;
}

void rms_norm(const MambaConfig& c, const float* x, const float* weight, int64_t rows, float* out) {
    const int64_t H = c.hidden;
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * H;
        double ss = 0.0;
        for (int64_t i = 0; i < H; ++i)
            ss += static_cast<double>(xr[i]) * static_cast<double>(xr[i]);
        const auto inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(H) + c.eps));
        for (int64_t i = 0; i < H; ++i)
            out[r * H + i] = xr[i] * inv * weight[i];
    }
}

void run_mixer_block(const MambaConfig& c, const BlockTensors& w, Activations& x, LayerState& s,
                     const LinearObserver& observer) {
    const SingleThreadedBlas single_threaded;
    const int64_t T = x.rows, H = c.hidden, I = c.inner, N = c.state, K = c.conv, R = c.dt_rank,
                  P = c.x_proj_out();
    auto observe = [&](const char* name, const float* in, int64_t cols) {
        if (observer) observer(w.layer, name, in, T, cols);
    };

    std::vector<float> h(static_cast<size_t>(T * H));
    rms_norm(c, x.data.data(), tensor(w, "norm.weight"), T, h.data());
    observe("mixer.in_proj", h.data(), H);
    std::vector<float> xz(static_cast<size_t>(T * 2 * I));
    linear(h.data(), T, H, matrix(w, "mixer.in_proj.weight"), 2 * I,
           tensor(w, "mixer.in_proj.bias"), xz.data());

    // Conv taps [I, 1, K] -> [K, I].
    const float* taps = tensor(w, "mixer.conv1d.weight");
    std::vector<float> taps_t(static_cast<size_t>(K * I));
    for (int64_t ch = 0; ch < I; ++ch)
        for (int64_t k = 0; k < K; ++k)
            taps_t[static_cast<size_t>(k * I + ch)] = taps[ch * K + k];
    std::vector<float> u(static_cast<size_t>(T * I));
    causal_conv_silu(xz.data(), 2 * I, T, I, K, taps_t.data(), tensor(w, "mixer.conv1d.bias"),
                     s.conv.data(), u.data());

    observe("mixer.x_proj", u.data(), I);
    std::vector<float> proj(static_cast<size_t>(T * P));
    linear(u.data(), T, I, matrix(w, "mixer.x_proj.weight"), P, nullptr, proj.data());
    std::vector<float> dt_low(static_cast<size_t>(T * R));
    for (int64_t t = 0; t < T; ++t)
        std::memcpy(dt_low.data() + t * R, proj.data() + t * P,
                    static_cast<size_t>(R) * sizeof(float));
    observe("mixer.dt_proj", dt_low.data(), R);
    std::vector<float> delta(static_cast<size_t>(T * I));
    linear(dt_low.data(), T, R, matrix(w, "mixer.dt_proj.weight"), I,
           tensor(w, "mixer.dt_proj.bias"), delta.data());
    softplus_inplace(delta.data(), T * I);

    const float* a_log = tensor(w, "mixer.A_log");
    std::vector<float> A(static_cast<size_t>(I * N));  // [N, I]
    for (int64_t ch = 0; ch < I; ++ch)
        for (int64_t n = 0; n < N; ++n)
            A[static_cast<size_t>(n * I + ch)] = -std::exp(a_log[ch * N + n]);
    std::vector<float> y(static_cast<size_t>(T * I));
    ScanArgs a;
    a.T = T;
    a.D = I;
    a.N = N;
    a.u = u.data();
    a.delta = delta.data();
    a.B = proj.data() + R;
    a.C = proj.data() + R + N;
    a.ld_bc = P;
    a.A = A.data();
    a.skip = tensor(w, "mixer.D");
    a.z = xz.data() + I;
    a.ld_z = 2 * I;
    a.h = s.ssm.data();
    a.y = y.data();
    selective_scan(a);

    observe("mixer.out_proj", y.data(), I);
    linear(y.data(), T, I, matrix(w, "mixer.out_proj.weight"), H, tensor(w, "mixer.out_proj.bias"),
           h.data());
    for (size_t i = 0; i < h.size(); ++i)
        x.data[i] += h[i];
    s.seen += T;
}

}  // namespace sutra::model::mamba
