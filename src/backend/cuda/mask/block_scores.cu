// Block scores: a small batched f32 GEMM, scale * qm km^T. 128 x 128 outputs per CTA of 256
// threads, 8 x 8 per thread (rows ty + 16u, columns tx + 16w: the 16 threads of a row read 16
// consecutive smem rows, free of bank conflicts). D is staged 16 at a time through shared memory
// by cp.async, double-buffered (the next chunk loads while this one computes), rows past nq / nk
// zero-filled. Each output is the fmaf chain over d = 0 .. D-1 in order, from 0, times scale at
// the end: the same bits as a straightforward f32 loop (round_bf16: rounded to bf16 before and
// after the scale, as bf16 bmm and a bf16 multiply).
#include <cuda_bf16.h>

#include "backend/cuda/attention/tile_load.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/mask/kernels.h"

namespace jenga::cuda::mask {
namespace {

constexpr int kTile = 128, kDc = 16, kLd = kDc + 4;  // smem row: 20 floats = 5 x 16 bytes
constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads, 2) block_scores_kernel(const BlockScoresArgs a) {
  __shared__ __align__(16) float sa[2][kTile][kLd];
  __shared__ __align__(16) float sb[2][kTile][kLd];
  const int g = blockIdx.z, i0 = blockIdx.y * kTile, j0 = blockIdx.x * kTile;
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int D = a.head_dim;
  const float* qm = a.qm + static_cast<int64_t>(g) * a.qm_blocks * D;
  const float* km = a.km + static_cast<int64_t>(g) * a.km_blocks * D;

  // Chunk [d0, d0 + kDc) of the tile's 128 rows of qm and km: 16 bytes a copy, 2 + 2 a thread,
  // consecutive threads along a row (coalesced).
  auto load = [&](int stage, int d0) {
#pragma unroll
    for (int it = 0; it < kTile * kDc / 4 / kThreads; ++it) {
      const int e = threadIdx.x + it * kThreads;
      const int r = e / (kDc / 4), c = (e % (kDc / 4)) * 4;
      const bool va = i0 + r < a.nq, vb = j0 + r < a.nk;
      attn::cp_async_16(&sa[stage][r][c], va ? qm + static_cast<int64_t>(i0 + r) * D + d0 + c : qm, va);
      attn::cp_async_16(&sb[stage][r][c], vb ? km + static_cast<int64_t>(j0 + r) * D + d0 + c : km, vb);
    }
    attn::cp_async_commit();
  };

  float acc[8][8];
#pragma unroll
  for (int u = 0; u < 8; ++u)
#pragma unroll
    for (int w = 0; w < 8; ++w) acc[u][w] = 0.f;

  const int chunks = D / kDc;
  load(0, 0);
  for (int ch = 0; ch < chunks; ++ch) {
    if (ch + 1 < chunks) {
      load((ch + 1) & 1, (ch + 1) * kDc);  // its stage was last read before the previous barrier
      attn::cp_async_wait<1>();
    } else {
      attn::cp_async_wait<0>();
    }
    __syncthreads();
    const int st = ch & 1;
#pragma unroll 1  // unrolled, the compiler hoists the smem reads and spills at 128 registers
    for (int d = 0; d < kDc; d += 4) {
      // Four d at a time (16-byte smem reads), the columns in two halves of 4 (registers).
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float4 y[4];
#pragma unroll
        for (int w = 0; w < 4; ++w) y[w] = *reinterpret_cast<const float4*>(&sb[st][tx + 16 * (4 * h + w)][d]);
#pragma unroll
        for (int u = 0; u < 8; ++u) {
          const float4 x = *reinterpret_cast<const float4*>(&sa[st][ty + 16 * u][d]);
#pragma unroll
          for (int w = 0; w < 4; ++w) {
            float v = acc[u][4 * h + w];
            v = fmaf(x.x, y[w].x, v);
            v = fmaf(x.y, y[w].y, v);
            v = fmaf(x.z, y[w].z, v);
            acc[u][4 * h + w] = fmaf(x.w, y[w].w, v);
          }
        }
      }
    }
    __syncthreads();  // this stage is refilled by the next iteration's load
  }

  float* out = a.scores + static_cast<int64_t>(g) * a.nq * a.nk;
#pragma unroll
  for (int u = 0; u < 8; ++u) {
    const int i = i0 + ty + 16 * u;
    if (i >= a.nq) continue;
#pragma unroll
    for (int w = 0; w < 8; ++w) {
      const int j = j0 + tx + 16 * w;
      if (j >= a.nk) continue;
      out[static_cast<int64_t>(i) * a.nk + j] =
          a.round_bf16 ? __bfloat162float(__float2bfloat16_rn(__bfloat162float(__float2bfloat16_rn(acc[u][w])) * a.scale))
                       : acc[u][w] * a.scale;
    }
  }
}

}  // namespace

void launch_block_scores(const BlockScoresArgs& a, cudaStream_t s) {
  const dim3 grid((a.nk + kTile - 1) / kTile, (a.nq + kTile - 1) / kTile, a.groups);
  block_scores_kernel<<<grid, kThreads, 0, s>>>(a);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda::mask
