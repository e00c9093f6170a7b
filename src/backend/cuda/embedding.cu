#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/embedding.h"
#include "backend/cuda/kernel_util.cuh"

namespace jenga::cuda {
namespace {

__global__ void embedding_gather_kernel(const __nv_bfloat16* __restrict__ table, const int32_t* __restrict__ ids,
                                        float* __restrict__ x, int64_t rows, int64_t dim) {
  const int64_t n = rows * dim;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[i] = __bfloat162float(table[static_cast<int64_t>(ids[i / dim]) * dim + i % dim]);
}

__global__ void sinusoid_kernel(const float* t, float* out, int64_t half) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < half;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const double a = static_cast<double>(*t) * pow(10000.0, -static_cast<double>(k) / static_cast<double>(half));
    out[k] = static_cast<float>(cos(a));
    out[half + k] = static_cast<float>(sin(a));
  }
}

__global__ void sinusoid_value_kernel(float t, float* out, int64_t half) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < half;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const double a = static_cast<double>(t) * pow(10000.0, -static_cast<double>(k) / static_cast<double>(half));
    out[k] = static_cast<float>(cos(a));
    out[half + k] = static_cast<float>(sin(a));
  }
}

}  // namespace

void embedding_gather(const void* table, const int32_t* ids, float* x, int64_t rows, int64_t dim, void* stream) {
  if (rows * dim == 0) return;
  embedding_gather_kernel<<<grid_for(rows * dim), kThreads, 0, as_stream(stream)>>>(
      static_cast<const __nv_bfloat16*>(table), ids, x, rows, dim);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void sinusoidal_embedding(const float* t, float* out, int64_t dim, void* stream) {
  sinusoid_kernel<<<grid_for(dim / 2), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(t, out, dim / 2);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void sinusoidal_embedding_value(float t, float* out, int64_t dim, void* stream) {
  sinusoid_value_kernel<<<grid_for(dim / 2), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(t, out, dim / 2);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
