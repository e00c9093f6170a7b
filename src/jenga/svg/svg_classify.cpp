#include "jenga/svg/svg_classify.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/rng.h"

namespace jenga::svg {

std::vector<int32_t> sample_rows(const SvgParams& p, int64_t tokens, uint64_t seed, uint64_t offset) {
  if (tokens < 1) fail("SVG row sampling over {} tokens: need at least 1", tokens);
  if (p.num_sampled_rows < 1 || p.sample_mse_max_row < 1)
    fail("SVG sampling needs num_sampled_rows >= 1 and sample_mse_max_row >= 1 (got {} and {})", p.num_sampled_rows,
         p.sample_mse_max_row);
  const int64_t n = std::min(p.num_sampled_rows, tokens);
  const uint64_t range = static_cast<uint64_t>(std::min(p.sample_mse_max_row, tokens));
  std::vector<int32_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    uint32_t w[4];
    philox_words(seed, offset + static_cast<uint64_t>(i), w);
    const uint64_t x = (static_cast<uint64_t>(w[0]) << 32) | w[1];
    rows[i] = static_cast<int32_t>(x % range);  // bias < range / 2^64, negligible
  }
  return rows;
}

namespace {

// Softmax-weighted sum of v over the kept keys of one query row; scores: [tokens] (already scaled).
void attend_row(const std::vector<double>& scores, const std::vector<uint8_t>& keep, const float* v, int64_t tokens,
                int64_t d, std::vector<double>& out) {
  double mx = -INFINITY;
  for (int64_t j = 0; j < tokens; ++j)
    if (keep[j]) mx = std::max(mx, scores[j]);
  std::fill(out.begin(), out.end(), 0.0);
  double sum = 0;
  for (int64_t j = 0; j < tokens; ++j) {
    if (!keep[j]) continue;
    const double e = std::exp(scores[j] - mx);
    sum += e;
    const float* vr = v + j * d;
    for (int64_t c = 0; c < d; ++c) out[c] += e * vr[c];
  }
  for (auto& o : out) o /= sum;
}

}  // namespace

std::vector<HeadChoice> classify_heads(const float* q, const float* k, const float* v, int64_t heads,
                                       int64_t head_dim, const SvgGrid& g, std::span<const int32_t> rows) {
  g.validate();
  if (heads < 1 || head_dim < 1) fail("SVG classify: heads {} and head_dim {} must be at least 1", heads, head_dim);
  if (rows.empty()) fail("SVG classify: no sampled rows");
  const int64_t n = g.sequence();  // every key, text padding included (the official sample_mse)
  for (int32_t r : rows)
    if (r < 0 || r >= n) fail("SVG classify: sampled row {} is outside [0, {})", r, n);
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  std::vector<HeadChoice> out(static_cast<size_t>(heads));
  std::vector<double> scores(n), dense(head_dim), masked(head_dim);
  std::vector<uint8_t> all(n, 1), keep(n);
  for (int64_t h = 0; h < heads; ++h) {
    const float* qh = q + h * n * head_dim;
    const float* kh = k + h * n * head_dim;
    const float* vh = v + h * n * head_dim;
    double err[2] = {0, 0};
    for (int32_t r : rows) {
      const float* qr = qh + static_cast<int64_t>(r) * head_dim;
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t c = 0; c < head_dim; ++c) s += static_cast<double>(qr[c]) * kh[j * head_dim + c];
        scores[j] = s * scale;
      }
      attend_row(scores, all, vh, n, head_dim, dense);
      for (int m = 0; m < 2; ++m) {
        for (int64_t j = 0; j < n; ++j)
          keep[j] = m == 0 ? spatial_profile_keeps(g, r, j) : temporal_profile_keeps(g, r, j);
        attend_row(scores, keep, vh, n, head_dim, masked);
        for (int64_t c = 0; c < head_dim; ++c) err[m] += (masked[c] - dense[c]) * (masked[c] - dense[c]);
      }
    }
    const double count = static_cast<double>(rows.size()) * static_cast<double>(head_dim);
    HeadChoice& hc = out[h];
    hc.mse_spatial = err[0] / count;
    hc.mse_temporal = err[1] / count;
    if (!std::isfinite(hc.mse_spatial) || !std::isfinite(hc.mse_temporal))
      fail("SVG classify: head {} has a non-finite profiling error; q/k/v contain NaN or Inf", h);
    hc.pattern = hc.mse_temporal < hc.mse_spatial ? SvgPattern::temporal : SvgPattern::spatial;
  }
  return out;
}

}  // namespace jenga::svg
