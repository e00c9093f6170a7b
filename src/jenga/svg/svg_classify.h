#pragma once
// SVG online profiling: per head, attend a few sampled query rows densely and under each
// profiling mask, and pick the mask with the smaller mean squared error (ties -> spatial, as
// torch.argmin). Facts from WanAttn_SVGAttn_Processor2_0.sample_mse.
#include <cstdint>
#include <span>
#include <vector>

#include "jenga/svg/svg_masks.h"

namespace jenga::svg {

struct SvgParams {
  int64_t num_sampled_rows = 64;     // official --num_sampled_rows
  int64_t sample_mse_max_row = 10000;  // rows are drawn from [0, this) only (official --sample_mse_max_row)
  double sparsity = 0.25;            // official --sparsity (kept fraction of the band; script: 0.3)
};

// Our deterministic sampler (the official one is torch.randint): min(num_sampled_rows, tokens) rows
// uniform in [0, min(sample_mse_max_row, tokens)) with replacement, from Philox stream `seed` at
// counter `offset` (e.g. derived from step and layer).
std::vector<int32_t> sample_rows(const SvgParams& p, int64_t tokens, uint64_t seed, uint64_t offset = 0);

struct HeadChoice {
  SvgPattern pattern = SvgPattern::spatial;
  double mse_spatial = 0, mse_temporal = 0;
};

// q, k, v: [heads, tokens, head_dim] f32 contiguous, tokens = g.sequence() (HunyuanVideo: the
// text rows too; the official profile attends every key, padding text included). rows: sampled
// query rows, each in [0, tokens). Throws jenga::Error on bad sizes, out-of-range rows or non-finite MSEs.
std::vector<HeadChoice> classify_heads(const float* q, const float* k, const float* v, int64_t heads,
                                       int64_t head_dim, const SvgGrid& g, std::span<const int32_t> rows);

}  // namespace jenga::svg
