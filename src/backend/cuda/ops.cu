#include <cuda_bf16.h>

#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/ops.h"

namespace jenga::cuda {
namespace {

constexpr int kThreads = 256;

__device__ float block_sum(float v) {
  __shared__ float warp_sums[kThreads / 32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // warp_sums may still be read by a previous call
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  float t = lane < kThreads / 32 ? warp_sums[lane] : 0.0f;
  for (int o = 16; o > 0; o >>= 1) t += __shfl_xor_sync(0xffffffffu, t, o);
  return t;
}

__global__ void gated_residual_kernel(float* __restrict__ x, const __nv_bfloat16* __restrict__ y,
                                      const float* __restrict__ gate, int64_t n, int64_t dim) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = gate ? gate[i % dim] : 1.0f;
    x[i] += __bfloat162float(y[i]) * g;
  }
}

__global__ void add_broadcast_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                     float* __restrict__ out, int64_t n, int64_t b_len) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = a[i] + b[i % b_len];
}

// Sums over a block of any multiple-of-32 size (<= 1024), two values at once.
__device__ float2 block_sum2(float2 v) {
  __shared__ float2 warp_sums[32];
  for (int o = 16; o > 0; o >>= 1) {
    v.x += __shfl_xor_sync(0xffffffffu, v.x, o);
    v.y += __shfl_xor_sync(0xffffffffu, v.y, o);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  float2 t = lane < warps ? warp_sums[lane] : make_float2(0.0f, 0.0f);
  for (int o = 16; o > 0; o >>= 1) {
    t.x += __shfl_xor_sync(0xffffffffu, t.x, o);
    t.y += __shfl_xor_sync(0xffffffffu, t.y, o);
  }
  return t;
}

__device__ __forceinline__ float round_bf16(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

// Sum of squares of 8 bf16 values packed in 16 bytes.
__device__ __forceinline__ float sum_squares8(const uint4& v) {
  const __nv_bfloat162* p = reinterpret_cast<const __nv_bfloat162*>(&v);
  float s = 0.0f;
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const float2 f = __bfloat1622float2(p[e]);
    s += f.x * f.x + f.y * f.y;
  }
  return s;
}

// x += y * gate, 8 elements a thread (dim % 8 == 0).
__global__ void gated_residual_vec_kernel(float* __restrict__ x, const __nv_bfloat16* __restrict__ y,
                                          const float* __restrict__ gate, int64_t n8, int dim) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n8;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float4* xp = reinterpret_cast<float4*>(x) + 2 * i;
    const uint4 yv = reinterpret_cast<const uint4*>(y)[i];
    const __nv_bfloat162* yp = reinterpret_cast<const __nv_bfloat162*>(&yv);
    float4 a = xp[0], c = xp[1];
    const float2 y0 = __bfloat1622float2(yp[0]), y1 = __bfloat1622float2(yp[1]);
    const float2 y2 = __bfloat1622float2(yp[2]), y3 = __bfloat1622float2(yp[3]);
    if (gate) {
      const int col = static_cast<int>((i * 8) % dim);
      const float4 g0 = *reinterpret_cast<const float4*>(gate + col), g1 = *reinterpret_cast<const float4*>(gate + col + 4);
      a.x += y0.x * g0.x, a.y += y0.y * g0.y, a.z += y1.x * g0.z, a.w += y1.y * g0.w;
      c.x += y2.x * g1.x, c.y += y2.y * g1.y, c.z += y3.x * g1.z, c.w += y3.y * g1.w;
    } else {
      a.x += y0.x, a.y += y0.y, a.z += y1.x, a.w += y1.y;
      c.x += y2.x, c.y += y2.y, c.z += y3.x, c.w += y3.y;
    }
    xp[0] = a, xp[1] = c;
  }
}

__global__ void broadcast_row_kernel(const __nv_bfloat16* __restrict__ src, __nv_bfloat16* dst, int64_t stride,
                                     int64_t rows, int64_t dim) {
  const int64_t n = rows * dim;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[(i / dim) * stride + i % dim] = src[i % dim];
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Threads for a row of nv vectors at VPT vectors a thread: a multiple of 32.
unsigned row_threads(int64_t nv, int vpt) { return static_cast<unsigned>(((nv + vpt - 1) / vpt + 31) / 32 * 32); }

int grid_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65536 * 4 ? b : 65536 * 4);
}

}  // namespace

namespace {
}  // namespace

void gated_residual_add(float* x, const void* y, const float* gate, int64_t rows, int64_t dim, void* stream) {
  const int64_t n = rows * dim;
  if (n == 0) return;
  if (dim % 8 == 0 && aligned16(x) && aligned16(y) && (!gate || aligned16(gate))) {
    gated_residual_vec_kernel<<<grid_for(n / 8), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        x, static_cast<const __nv_bfloat16*>(y), gate, n / 8, static_cast<int>(dim));
    JENGA_CUDA_CHECK(cudaGetLastError());
    return;
  }
  gated_residual_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, static_cast<const __nv_bfloat16*>(y), gate, n, dim);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void broadcast_row_bf16(const void* src, void* dst, int64_t dst_stride, int64_t rows, int64_t dim, void* stream) {
  if (rows <= 0 || dim <= 0) return;
  broadcast_row_kernel<<<grid_for(rows * dim), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const __nv_bfloat16*>(src), static_cast<__nv_bfloat16*>(dst), dst_stride, rows, dim);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void add_broadcast(const float* a, const float* b, float* out, int64_t n, int64_t b_len, void* stream) {
  if (n == 0) return;
  add_broadcast_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(a, b, out, n, b_len);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
