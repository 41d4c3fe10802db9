#pragma once
// The two sequence operations of a Mamba-1 mixer, over T tokens continuing a carried state
// (zeros for a window from the initial state). D channels (d_inner), K conv taps, N states.
//
// Causal depthwise convolution, then SiLU:
//     ext = window (K-1 rows, oldest first) followed by x (T rows)          [K-1+T, D]
//     u[t][c] = silu(bias[c] + sum_k w[c][k] * ext[t + k][c]),  k in [0, K)
//     window <- the last K-1 rows of ext
// which is PyTorch's Conv1d(groups=D, padding=K-1) cut to the first T outputs when the window
// starts as zeros, and the step form (roll the window, append x, dot with w) one token at a
// time.
//
// Selective scan (the SSM recurrence, discretised with zero-order hold on A, Euler on B):
//     h[n][c] <- exp(delta[t][c] * A[n][c]) * h[n][c] + delta[t][c] * B[t][n] * u[t][c]
//     y[t][c]  = (sum_n h[n][c] * C[t][n] + skip[c] * u[t][c]) * silu(z[t][c])
// with A = -exp(A_log) < 0 and delta = softplus(dt_proj(dt_low) + bias) > 0, so every factor
// exp(delta * A) is in (0, 1]: the state cannot blow up. A and h are held transposed, [N, D]
// (the checkpoint's A_log and transformers' ssm_state are [D, N]), so that every loop runs
// over the D channels and vectorises; h is updated in place. exp, SiLU and softplus are
// polynomial ones here (relative error about 1e-7, like libm's expf), written as plain
// arithmetic so that the compiler vectorises them.
#include <cstdint>

namespace sutra::model::mamba {

// x: T rows with stride ld_x (the x half of in_proj's output); w_t: the taps transposed,
// [K, D]; bias: [D] or null; window: [K-1, D]; u: [T, D].
void causal_conv_silu(const float* x, int64_t ld_x, int64_t T, int64_t D, int64_t K,
                      const float* w_t, const float* bias, float* window, float* u);

struct ScanArgs {
    int64_t T = 0, D = 0, N = 0;
    const float* u = nullptr;      // [T, D]
    const float* delta = nullptr;  // [T, D], after softplus
    const float* B = nullptr;      // row t at B + t * ld_bc, N values
    const float* C = nullptr;      // row t at C + t * ld_bc, N values
    int64_t ld_bc = 0;
    const float* A = nullptr;     // [N, D], negative
    const float* skip = nullptr;  // D [D]
    const float* z = nullptr;     // row t at z + t * ld_z, D values (the gate)
    int64_t ld_z = 0;
    float* h = nullptr;  // [N, D], in place
    float* y = nullptr;  // [T, D]
};

void selective_scan(const ScanArgs& a);

// v[i] = softplus(v[i]) = log(1 + exp(v[i])) for i < n.
void softplus_inplace(float* v, int64_t n);

}  // namespace sutra::model::mamba
