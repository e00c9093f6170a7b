#include <cuda_bf16.h>

#include <cmath>
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/t5_ops.h"

namespace jenga::cuda {
namespace {

constexpr int kThreads = 256;

__device__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ float block_sum(float v) {
  __shared__ float warp_sums[kThreads / 32];
  v = warp_sum(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // warp_sums may still be read by a previous call
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  return warp_sum(lane < kThreads / 32 ? warp_sums[lane] : 0.0f);
}

template <typename Out>
__device__ void store(Out* p, float v);
template <>
__device__ void store<float>(float* p, float v) { *p = v; }
template <>
__device__ void store<__nv_bfloat16>(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

__global__ void embedding_gather_kernel(const __nv_bfloat16* __restrict__ table, const int32_t* __restrict__ ids,
                                        float* __restrict__ x, int64_t rows, int64_t dim) {
  const int64_t n = rows * dim;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[i] = __bfloat162float(table[static_cast<int64_t>(ids[i / dim]) * dim + i % dim]);
}

int grid_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65536 * 4 ? b : 65536 * 4);
}

cudaStream_t st(void* s) { return static_cast<cudaStream_t>(s); }

}  // namespace

void embedding_gather(const void* table, const int32_t* ids, float* x, int64_t rows, int64_t dim, void* stream) {
  if (rows * dim == 0) return;
  embedding_gather_kernel<<<grid_for(rows * dim), kThreads, 0, st(stream)>>>(
      static_cast<const __nv_bfloat16*>(table), ids, x, rows, dim);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
