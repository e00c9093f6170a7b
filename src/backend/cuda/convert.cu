// Elementwise dtype conversion kernels.
#include <cuda_bf16.h>

#include <algorithm>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"

namespace jenga::cuda {
namespace {
__global__ void f32_to_bf16_kernel(const float* __restrict__ src, __nv_bfloat16* __restrict__ dst, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i]);
}
}  // namespace

void convert_f32_to_bf16(const float* src, uint16_t* dst, size_t n) {
  if (n == 0) return;
  const int threads = 256;
  const int blocks = static_cast<int>(std::min<size_t>((n + threads - 1) / threads, 65535));
  f32_to_bf16_kernel<<<blocks, threads>>>(src, reinterpret_cast<__nv_bfloat16*>(dst), n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
