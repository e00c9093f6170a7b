#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "backend/cuda/random.h"
#include "core/rng.h"

namespace jenga::cuda {
namespace {

__device__ float philox_normal(uint64_t seed, uint64_t e) {
  uint32_t w[4];
  jenga::philox_words(seed, e / 2, w);
  const float u1 = jenga::u32_to_unit(w[0]), u2 = jenga::u32_to_unit(w[1]);
  const float r = sqrtf(-2.0f * logf(u1));
  const float a = 6.28318530717958647692f * u2;
  return (e % 2 == 0) ? r * cosf(a) : r * sinf(a);
}

template <typename T>
__global__ void fill_normal_kernel(T* dst, int64_t n, uint64_t seed, uint64_t offset, float scale, float shift) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = shift + scale * philox_normal(seed, offset + static_cast<uint64_t>(i));
    if constexpr (sizeof(T) == 2)
      dst[i] = __float2bfloat16_rn(v);
    else
      dst[i] = v;
  }
}

}  // namespace

void fill_normal_bf16(void* dst, int64_t n, uint64_t seed, uint64_t offset, float scale, float shift, void* stream) {
  if (n == 0) return;
  fill_normal_kernel<__nv_bfloat16><<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<__nv_bfloat16*>(dst), n, seed, offset, scale, shift);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void fill_normal_f32(float* dst, int64_t n, uint64_t seed, uint64_t offset, float scale, float shift, void* stream) {
  if (n == 0) return;
  fill_normal_kernel<float><<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      dst, n, seed, offset, scale, shift);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
