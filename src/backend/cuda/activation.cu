#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "backend/cuda/activation.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"

namespace jenga::cuda {
namespace {

__global__ void silu_bf16_kernel(__nv_bfloat16* x, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = __bfloat162float(x[i]);
    x[i] = __float2bfloat16_rn(v / (1.0f + __expf(-v)));
  }
}

template <typename Out>
__global__ void silu_gated_kernel(const float* __restrict__ gu, Out* __restrict__ out, int64_t rows, int64_t ffn) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= rows * ffn) return;
  const int64_t r = i / ffn, j = i % ffn;
  const float g = gu[r * 2 * ffn + j], u = gu[r * 2 * ffn + ffn + j];
  out[i] = to_out<Out>(g / (1.0f + expf(-g)) * u);
}

template <typename Out>
__global__ void gelu_kernel(const float* __restrict__ x, Out* __restrict__ y, int64_t n, bool quick) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const float v = x[i];
  y[i] = to_out<Out>(quick ? v * (1.0f / (1.0f + expf(-1.702f * v))) : 0.5f * v * (1.0f + erff(v * 0.7071067811865476f)));
}

__global__ void gated_gelu_tanh_kernel(const float* __restrict__ gf, __nv_bfloat16* __restrict__ out, int64_t rows,
                                  int64_t ffn) {
  const int64_t n = rows * ffn;
  const float c = 0.7978845608028654f;  // sqrt(2 / pi)
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / ffn, j = i % ffn;
    const float g = gf[r * 2 * ffn + j];
    const float f = gf[r * 2 * ffn + ffn + j];
    const float gelu = 0.5f * g * (1.0f + tanhf(c * (g + 0.044715f * g * g * g)));
    out[i] = __float2bfloat16_rn(gelu * f);
  }
}

}  // namespace

void silu_bf16(void* x, int64_t n, void* stream) {
  if (n == 0) return;
  silu_bf16_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(static_cast<__nv_bfloat16*>(x), n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void silu_gated(const float* gu, void* out, bool out_f16, int64_t rows, int64_t ffn, void* stream) {
  const int64_t n = rows * ffn;
  if (n <= 0) return;
  if (out_f16)
    silu_gated_kernel<__half><<<blocks_exact(n), kThreads, 0, as_stream(stream)>>>(gu, static_cast<__half*>(out), rows, ffn);
  else
    silu_gated_kernel<float><<<blocks_exact(n), kThreads, 0, as_stream(stream)>>>(gu, static_cast<float*>(out), rows, ffn);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void gelu(const float* x, void* y, bool y_f16, int64_t n, bool quick, void* stream) {
  if (n <= 0) return;
  if (y_f16)
    gelu_kernel<__half><<<blocks_exact(n), kThreads, 0, as_stream(stream)>>>(x, static_cast<__half*>(y), n, quick);
  else
    gelu_kernel<float><<<blocks_exact(n), kThreads, 0, as_stream(stream)>>>(x, static_cast<float*>(y), n, quick);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void gated_gelu_tanh(const float* gf, void* out, int64_t rows, int64_t ffn, void* stream) {
  if (rows * ffn == 0) return;
  gated_gelu_tanh_kernel<<<grid_for(rows * ffn), kThreads, 0, as_stream(stream)>>>(gf, static_cast<__nv_bfloat16*>(out), rows, ffn);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
