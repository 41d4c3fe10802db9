#pragma once
// One Mamba-1 block (transformers' MambaBlock + MambaMixer slow path; mamba_simple.py's
// Mamba), in place on the residual stream x [T, H]:
//
//   h        = rmsnorm(x) * norm.weight                                     [T, H]
//   xs, z    = split(h in_proj^T (+ bias))                                  [T, I] each
//   u        = silu(causal depthwise conv1d(xs) + conv bias)                [T, I]
//   dt_low, B, C = split(u x_proj^T)                                        [T, R], [T, N] x 2
//   delta    = softplus(dt_low dt_proj^T + dt_proj.bias)                    [T, I]
//   y        = selective_scan(u, delta, A = -exp(A_log), B, C, D) * silu(z) [T, I]
//   x       += y out_proj^T (+ bias)
//
// (mamba_scan.hpp has the conv and the scan.) The linears are one matrix product each over
// the T rows (OpenBLAS, single-threaded during the block); the conv window and the SSM state
// carry over from a LayerState, zeros for a window from the initial state. The observer sees
// the four linears' inputs: "mixer.in_proj" (h), "mixer.x_proj" (u), "mixer.dt_proj" (dt_low),
// "mixer.out_proj" (y).
#include <cstdint>
#include <vector>

#include "sutra/model/family.hpp"
#include "sutra/model/mamba/mamba_config.hpp"

namespace sutra::model::mamba {

// What a block remembers of the tokens it has seen.
struct LayerState {
    int64_t seen = 0;         // tokens consumed
    std::vector<float> conv;  // the last K-1 conv inputs xs, [K-1, I], oldest first
    std::vector<float> ssm;   // h [N, I] (transposed against transformers' ssm_state)
};

// Zeros: no token seen.
LayerState initial_layer_state(const MambaConfig& c);

// Runs the block on x continuing `s` (advanced by x.rows tokens). `w` must have passed
// check_block_tensors and x must be [rows >= 1, H]; `observer` may be empty.
void run_mixer_block(const MambaConfig& c, const BlockTensors& w, Activations& x, LayerState& s,
                     const LinearObserver& observer);

// rmsnorm(x) * weight over rows of width c.hidden (eps c.eps); the final norm too.
void rms_norm(const MambaConfig& c, const float* x, const float* weight, int64_t rows, float* out);

}  // namespace sutra::model::mamba
