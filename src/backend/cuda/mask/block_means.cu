// Pooled 128-token block means of Q or K: one CTA per (block, head, batch); each thread reads
// 16-byte chunks (8 bf16), 8 loads in flight, partial sums reduced through shared memory.
#include <cuda_bf16.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/mask/kernels.h"

namespace jenga::cuda::mask {
namespace {

template <int D>
__device__ __forceinline__ void block_mean(const BlockMeansArgs& a, int blk, int h, int b) {
  constexpr int kLanes = D / 8;            // threads per row
  constexpr int kGroups = 256 / kLanes;    // rows read at once
  constexpr int kSteps = kBlock / kGroups;
  __shared__ float part[kGroups][D + 1];
  const int lane = threadIdx.x % kLanes, grp = threadIdx.x / kLanes;
  const int row0 = blk * kBlock;
  const int valid = min(kBlock, a.len - row0);
  const auto* base = reinterpret_cast<const __nv_bfloat16*>(a.src) + b * a.batch_stride + h * a.head_stride;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  uint4 chunk[kSteps];
#pragma unroll
  for (int s = 0; s < kSteps; ++s) {
    const int r = s * kGroups + grp;
    chunk[s] = r < valid ? *reinterpret_cast<const uint4*>(base + static_cast<int64_t>(row0 + r) * a.row_stride + lane * 8)
                         : make_uint4(0, 0, 0, 0);
  }
#pragma unroll
  for (int s = 0; s < kSteps; ++s) {
    const auto* v = reinterpret_cast<const __nv_bfloat162*>(&chunk[s]);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float2 f = __bfloat1622float2(v[e]);
      acc[2 * e] += f.x, acc[2 * e + 1] += f.y;
    }
  }
#pragma unroll
  for (int e = 0; e < 8; ++e) part[grp][lane * 8 + e] = acc[e];
  __syncthreads();
  if (threadIdx.x < D) {
    float sum = 0;
#pragma unroll 8
    for (int g = 0; g < kGroups; ++g) sum += part[g][threadIdx.x];
    const float n = a.zero_padded ? static_cast<float>(kBlock) : static_cast<float>(valid);
    const float mean = sum / n;
    a.out[((static_cast<int64_t>(b) * a.heads + h) * a.n_blocks + blk) * D + threadIdx.x] =
        a.round_bf16 ? __bfloat162float(__float2bfloat16_rn(mean)) : mean;
  }
}

template <int D>
__global__ void __launch_bounds__(256) block_means_kernel(const BlockMeansArgs a) {
  block_mean<D>(a, blockIdx.x, blockIdx.y, blockIdx.z);
}

// Q and K in one launch: blocks [0, q.n_blocks) of the grid pool Q, the rest K (one tail, one
// launch instead of two).
template <int D>
__global__ void __launch_bounds__(256) block_means_pair_kernel(const BlockMeansArgs q, const BlockMeansArgs k) {
  const int x = blockIdx.x;
  if (x < q.n_blocks)
    block_mean<D>(q, x, blockIdx.y, blockIdx.z);
  else
    block_mean<D>(k, x - q.n_blocks, blockIdx.y, blockIdx.z);
}

}  // namespace

void launch_block_means(const BlockMeansArgs& a, cudaStream_t s) {
  const dim3 grid(a.n_blocks, a.heads, a.batch);
  if (a.head_dim == 64)
    block_means_kernel<64><<<grid, 256, 0, s>>>(a);
  else
    block_means_kernel<128><<<grid, 256, 0, s>>>(a);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void launch_block_means_pair(const BlockMeansArgs& q, const BlockMeansArgs& k, cudaStream_t s) {
  const dim3 grid(q.n_blocks + k.n_blocks, q.heads, q.batch);
  if (q.head_dim == 64)
    block_means_pair_kernel<64><<<grid, 256, 0, s>>>(q, k);
  else
    block_means_pair_kernel<128><<<grid, 256, 0, s>>>(q, k);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda::mask
