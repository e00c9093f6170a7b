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
  const int64_t count = heads * g.sequence() * head_dim;
  const char* names[3] = {"q", "k", "v"};
  const float* ptrs[3] = {q, k, v};
  for (int t = 0; t < 3; ++t)
    for (int64_t i = 0; i < count; ++i)
      if (!std::isfinite(ptrs[t][i]))
        fail("SVG attention: {} has a non-finite value at element {} (head {}); check the model inputs", names[t], i,
             i / (g.sequence() * head_dim));
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

namespace {

// Dense attention of rows [r0, r1) over keys [k0, k1) of [h, n, d] tensors, output in place.
void dense_rows(const float* q, const float* k, const float* v, int64_t h, int64_t n, int64_t d, int64_t r0,
                int64_t r1, int64_t k0, int64_t k1, float* out) {
  if (r1 <= r0 || k1 <= k0) return;
  cpu::AttentionArgs a;
  a.q = q + r0 * d, a.k = k + k0 * d, a.v = v + k0 * d, a.out = out + r0 * d;
  a.batch = 1, a.heads = h, a.q_len = r1 - r0, a.k_len = k1 - k0, a.head_dim = d;
  a.q_head_stride = a.k_head_stride = a.v_head_stride = a.out_head_stride = n * d;
  a.q_row_stride = a.k_row_stride = a.v_row_stride = a.out_row_stride = d;
  a.q_batch_stride = a.k_batch_stride = a.v_batch_stride = a.out_batch_stride = h * n * d;
  a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  cpu::attention(a);
}

}  // namespace

void run_plan_cpu(const SvgPlan& plan, const float* q, const float* k, const float* v, int64_t head_dim, float* out) {
  const SvgGrid& g = plan.grid;
  const int64_t nv = g.tokens(), n = g.sequence(), h = plan.heads, d = head_dim;
  // Keys of the placed attention: the video tokens placed, then (HunyuanVideo) the valid text.
  const int64_t nk = g.rules == SvgRules::wan ? nv : g.real();
  if (static_cast<int64_t>(plan.order.size()) != h * nv)
    fail("SVG plan: order has {} entries, expected {}", plan.order.size(), h * nv);
  std::vector<float> pq(h * nv * d), pk(h * nk * d), pv(h * nk * d), po(h * nv * d);
  for (int64_t hh = 0; hh < h; ++hh)
    for (int64_t i = 0; i < nk; ++i) {
      const int64_t src = (hh * n + (i < nv ? plan.order[hh * nv + i] : i)) * d;
      if (i < nv) std::copy_n(q + src, d, pq.data() + (hh * nv + i) * d);
      std::copy_n(k + src, d, pk.data() + (hh * nk + i) * d);
      std::copy_n(v + src, d, pv.data() + (hh * nk + i) * d);
    }
  cpu::AttentionArgs a;
  a.q = pq.data();
  a.k = pk.data();
  a.v = pv.data();
  a.out = po.data();
  a.batch = 1;
  a.heads = h;
  a.q_len = nv;
  a.k_len = nk;
  a.head_dim = d;
  a.set_bhld_strides();
  a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  a.layout = &plan.layout;
  cpu::attention(a);
  for (int64_t hh = 0; hh < h; ++hh)
    for (int64_t i = 0; i < nv; ++i)
      std::copy_n(po.data() + (hh * nv + i) * d, d, out + (hh * n + plan.order[hh * nv + i]) * d);
  if (g.rules == SvgRules::wan) return;
  dense_rows(q, k, v, h, n, d, nv, g.real(), 0, g.real(), out);  // valid text: every real key
  dense_rows(q, k, v, h, n, d, g.real(), n, g.real(), n, out);    // padding text: the padding
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
