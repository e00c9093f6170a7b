#pragma once
// Sparse VideoGen self-attention on the GPU, one call per layer, all enqueued on one stream with
// no allocation and no host sync: profile the sampled rows (svg_profile) -> per-head patterns ->
// gather q/k/v into each head's placed order -> block-sparse attention of the video rows over the
// shared CSR layout -> scatter the output back. HunyuanVideo (text rows after the video): then
// the valid text rows densely over video + valid text and the padding rows over the padding (the
// official varlen split). set_stage() allocates and uploads once per token grid.
#include <cstdint>
#include <span>
#include <vector>

#include "backend/block_sparse.h"
#include "backend/cuda/svg_kernels.h"
#include "core/tensor.h"
#include "jenga/svg/svg_masks.h"

namespace jenga::cuda {

// The kernels' grid arguments of a policy grid (sink, profiling band, text rows from its rules).
SvgGridArgs svg_grid_args(const svg::SvgGrid& g, int64_t heads, int64_t head_dim);

// One guidance branch's attention: the placed-order CSR over 128 x 128 tiles (svg::placed_layout,
// video query rows) and the keys it spans: the video tokens, plus the branch's valid text rows
// (HunyuanVideo).
struct SvgBranch {
  BlockSparseLayout layout;
  int64_t keys = 0;
};

class SvgAttention {
 public:
  // rows: the sampled query rows (host, each < g.sequence()); branches: one or two (cond, uncond),
  // the same for every layer and step.
  void set_stage(const SvgGridArgs& g, std::span<const int32_t> rows, std::span<const SvgBranch> branches);
  // Wan (no text rows): one branch over the video tokens.
  void set_stage(const SvgGridArgs& g, std::span<const int32_t> rows, const BlockSparseLayout& layout);
  // q, k, v: bf16 [sequence, heads, head_dim] rows `row_stride` apart; out: bf16 rows `out_row_stride`
  // apart. branch: which set_stage branch (its layout and valid text). path: attention kernel path.
  void run(const uint16_t* q, const uint16_t* k, const uint16_t* v, int64_t row_stride, uint16_t* out,
           int64_t out_row_stride, void* stream, int branch = 0, int path = 0);
  bool ready() const { return g_.heads > 0; }
  // Device [heads] patterns and [heads, 2] MSEs (spatial, temporal) of the latest run.
  const int32_t* patterns() const { return patterns_.data_as<int32_t>(); }
  const float* mse() const { return mse_.data_as<float>(); }
  // Temporal / all heads over every run so far, and branch 0's kept-tile fraction (synchronises).
  double temporal_fraction();
  double density() const { return density_; }
  int64_t runs() const { return runs_; }

 private:
  struct DeviceBranch {
    Tensor offsets, indices;
    int64_t keys = 0;
  };
  SvgGridArgs g_;
  int num_rows_ = 0;
  std::vector<DeviceBranch> branches_;
  Tensor rows_, row_err_, patterns_, mse_, temporal_, pq_, pk_, pv_, po_;
  double density_ = 0;
  int64_t runs_ = 0;
};

}  // namespace jenga::cuda
