#include "backend/cpu/svg_attention_cpu.h"

#include "core/dtype.h"
#include "core/error.h"
#include "jenga/svg/svg_plan.h"

namespace jenga {

void SvgAttentionCpu::run(const SvgStage& s, int branch, const float* q, const float* k, const float* v, float* out,
                          int64_t tokens, int64_t heads, int64_t head_dim) {
  const svg::SvgGrid grid = s.grid_for(branch);
  if (grid.sequence() != tokens)
    fail("SVG: a grid of {} video + {} text rows for a self-attention of {} rows", grid.tokens(), grid.text, tokens);
  const int64_t H = heads, D = head_dim, n = tokens * H * D;
  for (auto* b : {&q_, &k_, &v_, &qr_, &kr_, &vr_, &o_}) b->resize(static_cast<size_t>(n));
  auto round = [](float x) { return bf16_to_f32(f32_to_bf16(x)); };
  for (int64_t i = 0; i < tokens; ++i)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t d = 0; d < D; ++d) {
        const int64_t src = (i * H + h) * D + d, dst = (h * tokens + i) * D + d;
        q_[dst] = q[src], k_[dst] = k[src], v_[dst] = v[src];
        qr_[dst] = round(q[src]), kr_[dst] = round(k[src]), vr_[dst] = round(v[src]);
      }
  const svg::SvgPlan plan = svg::plan_attention(qr_.data(), kr_.data(), vr_.data(), H, D, grid, s.params, s.rows, 128);
  svg::run_plan_cpu(plan, q_.data(), k_.data(), v_.data(), D, o_.data());
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < tokens; ++i)
      for (int64_t d = 0; d < D; ++d) out[(i * H + h) * D + d] = o_[(h * tokens + i) * D + d];
  kept_blocks += static_cast<double>(plan.layout.offsets.back());
  all_blocks += static_cast<double>(plan.layout.rows() * plan.layout.k_blocks);
  for (const auto& c : plan.choices) temporal_heads += c.pattern == svg::SvgPattern::temporal;
  heads_seen += static_cast<double>(H);
}

}  // namespace jenga
