// Block scores: a small batched f32 GEMM, scale * qm km^T. 64 x 64 outputs per CTA, 4 x 4 per
// thread, D staged 32 at a time through shared memory (transposed, padded against conflicts).
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/mask/kernels.h"

namespace jenga::cuda::mask {
namespace {

constexpr int kTile = 64, kDc = 32;

__global__ void __launch_bounds__(256) block_scores_kernel(const BlockScoresArgs a) {
  __shared__ float sa[kDc][kTile + 4], sb[kDc][kTile + 4];
  const int g = blockIdx.z, i0 = blockIdx.y * kTile, j0 = blockIdx.x * kTile;
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const float* qm = a.qm + static_cast<int64_t>(g) * a.qm_blocks * a.head_dim;
  const float* km = a.km + static_cast<int64_t>(g) * a.km_blocks * a.head_dim;
  float acc[4][4] = {};
  for (int d0 = 0; d0 < a.head_dim; d0 += kDc) {
    for (int e = threadIdx.x; e < kTile * kDc; e += 256) {
      const int r = e / kDc, d = e % kDc;  // consecutive threads read consecutive d
      sa[d][r] = i0 + r < a.nq ? qm[static_cast<int64_t>(i0 + r) * a.head_dim + d0 + d] : 0.f;
      sb[d][r] = j0 + r < a.nk ? km[static_cast<int64_t>(j0 + r) * a.head_dim + d0 + d] : 0.f;
    }
    __syncthreads();
#pragma unroll 8
    for (int d = 0; d < kDc; ++d) {
      float x[4], y[4];
#pragma unroll
      for (int u = 0; u < 4; ++u) x[u] = sa[d][ty * 4 + u], y[u] = sb[d][tx * 4 + u];
#pragma unroll
      for (int u = 0; u < 4; ++u)
#pragma unroll
        for (int w = 0; w < 4; ++w) acc[u][w] = fmaf(x[u], y[w], acc[u][w]);
    }
    __syncthreads();
  }
  float* out = a.scores + static_cast<int64_t>(g) * a.nq * a.nk;
#pragma unroll
  for (int u = 0; u < 4; ++u)
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      const int i = i0 + ty * 4 + u, j = j0 + tx * 4 + w;
      if (i < a.nq && j < a.nk) out[static_cast<int64_t>(i) * a.nk + j] = acc[u][w] * a.scale;
    }
}

}  // namespace

void launch_block_scores(const BlockScoresArgs& a, cudaStream_t s) {
  const dim3 grid((a.nk + kTile - 1) / kTile, (a.nq + kTile - 1) / kTile, a.groups);
  block_scores_kernel<<<grid, 256, 0, s>>>(a);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda::mask
