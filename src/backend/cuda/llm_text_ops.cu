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

}  // namespace

void f16_to_f32(const void* src, float* dst, int64_t n, void* stream) {
  if (n <= 0) return;
  f16_to_f32_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(static_cast<const __half*>(src), dst, n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
