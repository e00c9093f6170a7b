#pragma once
// Sparse VideoGen self-attention on the GPU, one call per layer, all enqueued on one stream with
// no allocation and no host sync: profile the sampled rows (svg_profile) -> per-head patterns ->
// gather q/k/v into each head's placed order -> block-sparse attention over the shared CSR layout
// -> scatter the output back. set_stage() allocates and uploads once per token grid.
#include <cstdint>
#include <span>

#include "backend/block_sparse.h"
#include "backend/cuda/svg_kernels.h"
#include "core/tensor.h"

namespace jenga::cuda {

class SvgAttention {
 public:
  // rows: the sampled query rows (host, each < tokens); layout: the placed-order CSR over 128 x
  // 128 tiles for `g.heads` heads (svg::placed_layout), the same for every layer and step.
  void set_stage(const SvgGridArgs& g, std::span<const int32_t> rows, const BlockSparseLayout& layout);
  // q, k, v: bf16 [tokens, heads, head_dim] rows `row_stride` apart; out: bf16 rows `out_row_stride`
  // apart. path: attention kernel path (attention.h).
  void run(const uint16_t* q, const uint16_t* k, const uint16_t* v, int64_t row_stride, uint16_t* out,
           int64_t out_row_stride, void* stream, int path = 0);
  bool ready() const { return g_.heads > 0; }
  // Device [heads] patterns and [heads, 2] MSEs (spatial, temporal) of the latest run.
  const int32_t* patterns() const { return patterns_.data_as<int32_t>(); }
  const float* mse() const { return mse_.data_as<float>(); }
  // Temporal / all heads over every run so far, and the layout's kept-tile fraction (synchronises).
  double temporal_fraction();
  double density() const { return density_; }
  int64_t runs() const { return runs_; }

 private:
  SvgGridArgs g_;
  int num_rows_ = 0;
  Tensor rows_, offsets_, indices_, row_err_, patterns_, mse_, temporal_, pq_, pk_, pv_, po_;
  double density_ = 0;
  int64_t runs_ = 0;
};

}  // namespace jenga::cuda
