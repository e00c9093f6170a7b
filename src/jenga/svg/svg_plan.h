#pragma once
// One SVG attention call: classify heads, place each head's tokens, one shared block layout, and the
// dense warm-up (first steps / first layers run full attention). The plan is what a kernel needs:
// per head a placement order (gather q/k/v by it, scatter the output back) and the CSR layout.
#include <cstdint>
#include <span>
#include <vector>

#include "backend/block_sparse.h"
#include "jenga/svg/svg_classify.h"
#include "jenga/svg/svg_masks.h"

namespace jenga::svg {

struct SvgPlan {
  SvgGrid grid;
  int64_t heads = 0, band_width = 0;
  std::vector<HeadChoice> choices;  // [heads]
  std::vector<int32_t> order;       // [heads, video tokens]: order[h * V + i] = original token at placed i
  BlockSparseLayout layout;         // over placed tokens, block x block tiles
};

// q, k, v: [heads, g.sequence(), head_dim] f32. rows: the sampled query rows (sample_rows, or the
// official ones for parity). block: 128 for the kernel, 1 for the exact official token mask.
SvgPlan plan_attention(const float* q, const float* k, const float* v, int64_t heads, int64_t head_dim,
                       const SvgGrid& g, const SvgParams& p, std::span<const int32_t> rows, int block = 128);

// Reference run of a plan with cpu::attention (scale 1/sqrt(head_dim)); out: [heads, sequence,
// head_dim]. HunyuanVideo rules: the video rows through the layout (placed), the valid text rows
// densely over video + valid text, the padding rows over the padding (the official varlen split).
void run_plan_cpu(const SvgPlan& plan, const float* q, const float* k, const float* v, int64_t head_dim, float* out);

// Official warm-up (wan_t2v_inference.py): the first floor(first_times_fp * steps) steps and the
// first floor(first_layers_fp * layers) layers attend densely. Script: 0.2 / 0.03; defaults 0.075 / 0.025.
struct SvgWarmup {
  int64_t dense_steps = 0, dense_layers = 0;
  static SvgWarmup from_fractions(double first_times_fp, double first_layers_fp, int64_t steps, int64_t layers);
  bool dense(int64_t step, int64_t layer) const { return step < dense_steps || layer < dense_layers; }
};

}  // namespace jenga::svg
