#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/gemv.h"
#include "backend/cuda/kernel_util.cuh"

namespace jenga::cuda {
namespace {

// One warp per output element.
__global__ void linear_vec_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                  const float* __restrict__ b, float* __restrict__ y, int64_t n, int64_t k,
                                  bool silu) {
  const int64_t row = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= n) return;
  const float* wr = w + row * k;
  float s = 0.0f;
  for (int64_t i = lane; i < k; i += 32) {
    float v = x[i];
    if (silu) v = v / (1.0f + __expf(-v));
    s += wr[i] * v;
  }
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) y[row] = s + (b ? b[row] : 0.0f);
}

__device__ __forceinline__ float silu_f(float v) { return v / (1.0f + __expf(-v)); }

// One warp per output row; 8 bf16 weights per 16-byte load when VEC.
template <bool VEC>
__global__ void linear_vec_bf16_kernel(const float* __restrict__ x, const __nv_bfloat16* __restrict__ w,
                                       const __nv_bfloat16* __restrict__ b, float* __restrict__ y, int64_t n,
                                       int64_t k, bool silu, bool acc) {
  const int64_t row = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= n) return;
  const __nv_bfloat16* wr = w + row * k;
  float s = 0.0f;
  if constexpr (VEC) {
    const uint4* w8 = reinterpret_cast<const uint4*>(wr);
    for (int64_t i = lane; i < k / 8; i += 32) {
      const uint4 wv = w8[i];
      const __nv_bfloat162* p = reinterpret_cast<const __nv_bfloat162*>(&wv);
      const float4 x0 = reinterpret_cast<const float4*>(x)[2 * i], x1 = reinterpret_cast<const float4*>(x)[2 * i + 1];
      float xv[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
#pragma unroll
      for (int e = 0; e < 8; ++e)
        if (silu) xv[e] = silu_f(xv[e]);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float2 f = __bfloat1622float2(p[e]);
        s += f.x * xv[2 * e] + f.y * xv[2 * e + 1];
      }
    }
  } else {
    for (int64_t i = lane; i < k; i += 32) {
      float v = x[i];
      if (silu) v = silu_f(v);
      s += __bfloat162float(wr[i]) * v;
    }
  }
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) {
    const float r = s + (b ? __bfloat162float(b[row]) : 0.0f);
    y[row] = acc ? y[row] + r : r;
  }
}

}  // namespace

void linear_vec_f32(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t k, bool silu_input,
                    void* stream) {
  const int64_t threads = n * 32;
  linear_vec_kernel<<<static_cast<unsigned>((threads + kThreads - 1) / kThreads), kThreads, 0,
                      static_cast<cudaStream_t>(stream)>>>(x, w, b, y, n, k, silu_input);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void linear_vec_bf16(const float* x, const void* w, const void* b, float* y, int64_t n, int64_t k, bool silu_input,
                     bool accumulate, void* stream) {
  if (n == 0) return;
  const int64_t threads = n * 32;
  const auto blocks = static_cast<unsigned>((threads + kThreads - 1) / kThreads);
  const auto st = static_cast<cudaStream_t>(stream);
  const auto* wp = static_cast<const __nv_bfloat16*>(w);
  const auto* bp = static_cast<const __nv_bfloat16*>(b);
  const bool vec = k % 8 == 0 && (reinterpret_cast<uintptr_t>(w) & 15u) == 0 && (reinterpret_cast<uintptr_t>(x) & 15u) == 0;
  if (vec)
    linear_vec_bf16_kernel<true><<<blocks, kThreads, 0, st>>>(x, wp, bp, y, n, k, silu_input, accumulate);
  else
    linear_vec_bf16_kernel<false><<<blocks, kThreads, 0, st>>>(x, wp, bp, y, n, k, silu_input, accumulate);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
