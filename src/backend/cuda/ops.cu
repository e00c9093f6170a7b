#include <cuda_bf16.h>

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

__global__ void layer_norm_modulate_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                           const float* __restrict__ b, const float* __restrict__ shift,
                                           const float* __restrict__ scale, __nv_bfloat16* __restrict__ y,
                                           int64_t dim, float eps) {
  const float* xr = x + blockIdx.x * dim;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) s += xr[i];
  const float mean = block_sum(s) / static_cast<float>(dim);
  float v = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) {
    const float d = xr[i] - mean;
    v += d * d;
  }
  const float rstd = rsqrtf(block_sum(v) / static_cast<float>(dim) + eps);
  __nv_bfloat16* yr = y + blockIdx.x * dim;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) {
    float t = (xr[i] - mean) * rstd;
    if (w) t = t * w[i] + b[i];
    if (scale) t = t * (1.0f + scale[i]);
    if (shift) t += shift[i];
    yr[i] = __float2bfloat16_rn(t);
  }
}

__global__ void rms_norm_kernel(const __nv_bfloat16* x, int64_t x_stride, const float* __restrict__ w,
                                __nv_bfloat16* y, int64_t y_stride, int64_t dim, float eps) {
  const __nv_bfloat16* xr = x + blockIdx.x * x_stride;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) {
    const float t = __bfloat162float(xr[i]);
    s += t * t;
  }
  const float r = rsqrtf(block_sum(s) / static_cast<float>(dim) + eps);
  __nv_bfloat16* yr = y + blockIdx.x * y_stride;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads)
    yr[i] = __float2bfloat16_rn(__bfloat162float(xr[i]) * r * w[i]);
}

__global__ void rope_kernel(__nv_bfloat16* x, const float2* __restrict__ cs, int64_t rows, int64_t heads,
                            int64_t half, int64_t row_stride) {
  const int64_t n = rows * heads * half;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t j = i % half;
    const int64_t h = (i / half) % heads;
    const int64_t r = i / (half * heads);
    __nv_bfloat162* p = reinterpret_cast<__nv_bfloat162*>(x + r * row_stride + h * 2 * half) + j;
    const float2 v = __bfloat1622float2(*p);
    const float2 c = cs[r * half + j];
    *p = __floats2bfloat162_rn(v.x * c.x - v.y * c.y, v.x * c.y + v.y * c.x);
  }
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

int grid_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65536 * 4 ? b : 65536 * 4);
}

}  // namespace

void layer_norm_modulate(const float* x, const float* w, const float* b, const float* shift, const float* scale,
                         void* y, int64_t rows, int64_t dim, float eps, void* stream) {
  if (rows == 0) return;
  layer_norm_modulate_kernel<<<static_cast<unsigned>(rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, w, b, shift, scale, static_cast<__nv_bfloat16*>(y), dim, eps);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void rms_norm(const void* x, int64_t x_stride, const float* w, void* y, int64_t y_stride, int64_t rows,
              int64_t dim, float eps, void* stream) {
  if (rows == 0) return;
  rms_norm_kernel<<<static_cast<unsigned>(rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const __nv_bfloat16*>(x), x_stride, w, static_cast<__nv_bfloat16*>(y), y_stride, dim, eps);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void rope_interleaved(void* x, const float* cos_sin, int64_t rows, int64_t heads, int64_t head_dim,
                      int64_t row_stride, void* stream) {
  const int64_t n = rows * heads * (head_dim / 2);
  if (n == 0) return;
  rope_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<__nv_bfloat16*>(x), reinterpret_cast<const float2*>(cos_sin), rows, heads, head_dim / 2,
      row_stride);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void gated_residual_add(float* x, const void* y, const float* gate, int64_t rows, int64_t dim, void* stream) {
  const int64_t n = rows * dim;
  if (n == 0) return;
  gated_residual_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, static_cast<const __nv_bfloat16*>(y), gate, n, dim);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void add_broadcast(const float* a, const float* b, float* out, int64_t n, int64_t b_len, void* stream) {
  if (n == 0) return;
  add_broadcast_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(a, b, out, n, b_len);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
