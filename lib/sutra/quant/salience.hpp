#pragma once
// Data-free salience: which input channels of a linear matter most, judged from the weights
// alone, and the scaling that protects them when no calibration data is given.
//
// A linear that follows an RMSNorm sees x_c = n_c * g_c, where n is the normalised hidden state
// and g the norm's weight. Without activations, |g_c| stands in for mean|x_c|: channel c is
// high-salience when |g_c| >= threshold * median(|g|). Scales: s_c = max(1, |g_c| / (threshold *
// median|g|))^alpha, so only high-salience channels are scaled up (alpha = 0 is plain RTN), and
// alpha is chosen by the proxy loss sum_{r,c} g_c^2 (W_rc - Q(W diag(s))_rc / s_c)^2 — the
// output error if the normalised inputs were uncorrelated with unit variance (a data-free
// approximation of AWQ's loss; see the README for its measured effect).
#include <span>
#include <vector>

#include "sutra/quant/layout.hpp"

namespace sutra::quant {

float median_abs(std::span<const float> g);
// Share of channels with |g_c| >= threshold * median|g| (0..1).
double salient_share(std::span<const float> g, double threshold);
std::vector<float> data_free_scales(std::span<const float> g, double threshold, float alpha);
// Rows are spread over `threads` threads; the value does not depend on their number.
double proxy_loss(const std::vector<float>& w, const QuantLayout& l, std::span<const float> g,
                  std::span<const float> s, unsigned threads = 1);

}  // namespace sutra::quant
