#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "backend/cuda/convert.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"

namespace jenga::cuda {
namespace {

__global__ void f32_to_bf16_kernel(const float* src, __nv_bfloat16* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i]);
}

__global__ void f32_to_f16_kernel(const float* __restrict__ src, __half* __restrict__ dst, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) dst[i] = __float2half_rn(src[i]);
}

__global__ void f16_to_f32_kernel(const __half* __restrict__ src, float* __restrict__ dst, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) dst[i] = __half2float(src[i]);
}

}  // namespace

void f32_to_bf16(const float* src, void* dst, int64_t n, void* stream) {
  if (n <= 0) return;
  f32_to_bf16_kernel<<<blocks_for(n, 256), 256, 0, as_stream(stream)>>>(src, static_cast<__nv_bfloat16*>(dst), n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void f32_to_f16(const float* src, void* dst, int64_t n, void* stream) {
  if (n <= 0) return;
  f32_to_f16_kernel<<<blocks_exact(n), kThreads, 0, as_stream(stream)>>>(src, static_cast<__half*>(dst), n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void f16_to_f32(const void* src, float* dst, int64_t n, void* stream) {
  if (n <= 0) return;
  f16_to_f32_kernel<<<blocks_exact(n), kThreads, 0, as_stream(stream)>>>(static_cast<const __half*>(src), dst, n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void convert_f32_to_bf16(const float* src, uint16_t* dst, size_t n) {
  f32_to_bf16(src, dst, static_cast<int64_t>(n), nullptr);
}

}  // namespace jenga::cuda
