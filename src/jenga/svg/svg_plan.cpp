#include "jenga/svg/svg_plan.h"

#include <algorithm>
#include <cmath>

#include "backend/cpu/attention.h"
#include "core/error.h"

namespace jenga::svg {

SvgPlan plan_attention(const float* q, const float* k, const float* v, int64_t heads, int64_t head_dim,
                       const SvgGrid& g, const SvgParams& p, std::span<const int32_t> rows, int block) {
  if (!(p.sparsity > 0.0 && p.sparsity <= 1.0)) fail("SVG sparsity {}: must be in (0, 1]", p.sparsity);
  g.validate();
  // Unsampled rows never reach the profiling, so check every element here.
  const int64_t count = heads * g.tokens() * head_dim;
  const char* names[3] = {"q", "k", "v"};
  const float* ptrs[3] = {q, k, v};
  for (int t = 0; t < 3; ++t)
    for (int64_t i = 0; i < count; ++i)
      if (!std::isfinite(ptrs[t][i]))
        fail("SVG attention: {} has a non-finite value at element {} (head {}); check the model inputs", names[t], i,
             i / (g.tokens() * head_dim));
  SvgPlan plan;
  plan.grid = g;
  plan.heads = heads;
  plan.choices = classify_heads(q, k, v, heads, head_dim, g, rows);
  plan.band_width = band_width(g, band_multiplier(g, p.sparsity));
  const int64_t n = g.tokens();
  plan.order.reserve(static_cast<size_t>(heads * n));
  for (const HeadChoice& c : plan.choices) {
    const std::vector<int32_t> o = placement_order(g, c.pattern);
    plan.order.insert(plan.order.end(), o.begin(), o.end());
  }
  plan.layout = placed_layout(g, plan.band_width, heads, block);
  return plan;
}

void run_plan_cpu(const SvgPlan& plan, const float* q, const float* k, const float* v, int64_t head_dim, float* out) {
  const int64_t n = plan.grid.tokens(), h = plan.heads, d = head_dim;
  if (static_cast<int64_t>(plan.order.size()) != h * n) fail("SVG plan: order has {} entries, expected {}", plan.order.size(), h * n);
  std::vector<float> pq(h * n * d), pk(h * n * d), pv(h * n * d), po(h * n * d);
  for (int64_t hh = 0; hh < h; ++hh)
    for (int64_t i = 0; i < n; ++i) {
      const int64_t src = (hh * n + plan.order[hh * n + i]) * d, dst = (hh * n + i) * d;
      std::copy_n(q + src, d, pq.data() + dst);
      std::copy_n(k + src, d, pk.data() + dst);
      std::copy_n(v + src, d, pv.data() + dst);
    }
  cpu::AttentionArgs a;
  a.q = pq.data();
  a.k = pk.data();
  a.v = pv.data();
  a.out = po.data();
  a.batch = 1;
  a.heads = h;
  a.q_len = a.k_len = n;
  a.head_dim = d;
  a.set_bhld_strides();
  a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  a.layout = &plan.layout;
  cpu::attention(a);
  for (int64_t hh = 0; hh < h; ++hh)
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(po.data() + (hh * n + i) * d, d, out + (hh * n + plan.order[hh * n + i]) * d);
}

SvgWarmup SvgWarmup::from_fractions(double first_times_fp, double first_layers_fp, int64_t steps, int64_t layers) {
  if (!(first_times_fp >= 0 && first_times_fp <= 1) || !(first_layers_fp >= 0 && first_layers_fp <= 1))
    fail("SVG warm-up fractions {} (steps) and {} (layers): must be in [0, 1]", first_times_fp, first_layers_fp);
  SvgWarmup w;
  w.dense_steps = static_cast<int64_t>(std::floor(first_times_fp * static_cast<double>(steps)));
  w.dense_layers = static_cast<int64_t>(std::floor(first_layers_fp * static_cast<double>(layers)));
  return w;
}

}  // namespace jenga::svg
