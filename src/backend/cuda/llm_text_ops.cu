#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/llm_text_ops.h"

namespace jenga::cuda {
namespace {

constexpr int kThreads = 256;

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }
unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

__global__ void f16_to_f32_kernel(const __half* __restrict__ src, float* __restrict__ dst, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) dst[i] = __half2float(src[i]);
}

__device__ float block_reduce(float v, bool is_max) {
  __shared__ float part[kThreads / 32];
  for (int o = 16; o > 0; o >>= 1) {
    const float w = __shfl_xor_sync(0xffffffffu, v, o);
    v = is_max ? fmaxf(v, w) : v + w;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = is_max ? -INFINITY : 0.0f;
  for (int k = 0; k < kThreads / 32; ++k) v = is_max ? fmaxf(v, part[k]) : v + part[k];
  return v;
}

// One block per row.
__global__ void causal_softmax_kernel(float* __restrict__ s, const uint8_t* __restrict__ key_mask, int64_t len,
                                      float scale) {
  const int64_t i = blockIdx.x;
  float* row = s + i * len;
  float mx = -INFINITY;
  for (int64_t j = threadIdx.x; j <= i; j += blockDim.x)
    if (key_mask[j]) mx = fmaxf(mx, scale * row[j]);
  mx = block_reduce(mx, true);
  if (mx == -INFINITY) {
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) row[j] = 1.0f / static_cast<float>(len);
    return;
  }
  float sum = 0.0f;
  for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
    const float e = (j <= i && key_mask[j]) ? expf(scale * row[j] - mx) : 0.0f;
    row[j] = e;
    sum += e;
  }
  sum = block_reduce(sum, false);
  const float inv = 1.0f / sum;
  for (int64_t j = threadIdx.x; j < len; j += blockDim.x) row[j] *= inv;
}

__global__ void silu_mul_kernel(float* __restrict__ g, const float* __restrict__ u, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) {
    const float v = g[i];
    g[i] = v / (1.0f + expf(-v)) * u[i];
  }
}

}  // namespace

void f16_to_f32(const void* src, float* dst, int64_t n, void* stream) {
  if (n <= 0) return;
  f16_to_f32_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(static_cast<const __half*>(src), dst, n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void causal_masked_softmax(float* s, const uint8_t* key_mask, int64_t len, float scale, void* stream) {
  if (len <= 0) return;
  causal_softmax_kernel<<<static_cast<unsigned>(len), kThreads, 0, as_stream(stream)>>>(s, key_mask, len, scale);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void silu_mul(float* g, const float* u, int64_t n, void* stream) {
  if (n <= 0) return;
  silu_mul_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(g, u, n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
