#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/elementwise.h"
#include "backend/cuda/kernel_util.cuh"

namespace jenga::cuda {
namespace {

__global__ void gated_residual_kernel(float* __restrict__ x, const __nv_bfloat16* __restrict__ y,
                                      const float* __restrict__ gate, int64_t n, int64_t dim, RowModulation alt) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t off = alt_row(alt.mask, alt.rows, i / dim) ? alt.offset : 0;
    const float g = gate ? gate[off + i % dim] : 1.0f;
    x[i] += __bfloat162float(y[i]) * g;
  }
}

// x += y * gate, 8 elements a thread (dim % 8 == 0).
__global__ void gated_residual_vec_kernel(float* __restrict__ x, const __nv_bfloat16* __restrict__ y,
                                          const float* __restrict__ gate, int64_t n8, int dim, RowModulation alt) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n8;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float4* xp = reinterpret_cast<float4*>(x) + 2 * i;
    const uint4 yv = reinterpret_cast<const uint4*>(y)[i];
    const __nv_bfloat162* yp = reinterpret_cast<const __nv_bfloat162*>(&yv);
    float4 a = xp[0], c = xp[1];
    const float2 y0 = __bfloat1622float2(yp[0]), y1 = __bfloat1622float2(yp[1]);
    const float2 y2 = __bfloat1622float2(yp[2]), y3 = __bfloat1622float2(yp[3]);
    if (gate) {
      const int col = static_cast<int>((i * 8) % dim);
      const float* gr = alt_row(alt.mask, alt.rows, (i * 8) / dim) ? gate + alt.offset : gate;
      const float4 g0 = *reinterpret_cast<const float4*>(gr + col), g1 = *reinterpret_cast<const float4*>(gr + col + 4);
      a.x += y0.x * g0.x, a.y += y0.y * g0.y, a.z += y1.x * g0.z, a.w += y1.y * g0.w;
      c.x += y2.x * g1.x, c.y += y2.y * g1.y, c.z += y3.x * g1.z, c.w += y3.y * g1.w;
    } else {
      a.x += y0.x, a.y += y0.y, a.z += y1.x, a.w += y1.y;
      c.x += y2.x, c.y += y2.y, c.z += y3.x, c.w += y3.y;
    }
    xp[0] = a, xp[1] = c;
  }
}

__global__ void add_broadcast_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                     float* __restrict__ out, int64_t n, int64_t b_len) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = a[i] + b[i % b_len];
}

__global__ void broadcast_row_kernel(const __nv_bfloat16* __restrict__ src, __nv_bfloat16* dst, int64_t stride,
                                     int64_t rows, int64_t dim) {
  const int64_t n = rows * dim;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[(i / dim) * stride + i % dim] = src[i % dim];
}

__global__ void copy_column_groups_kernel(const __nv_bfloat16* __restrict__ src, int64_t src_row, int64_t src_group,
                                          __nv_bfloat16* __restrict__ dst, int64_t dst_row, int64_t dst_group,
                                          int64_t rows, int64_t groups, int64_t width) {
  const int64_t n = rows * groups * width;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t j = i % width, g = (i / width) % groups, r = i / (width * groups);
    dst[r * dst_row + g * dst_group + j] = src[r * src_row + g * src_group + j];
  }
}

__global__ void axpby_kernel(float* y, float a, const float* x, float b, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) y[i] = b == 0.0f ? a * x[i] : a * x[i] + b * y[i];
}

}  // namespace

void gated_residual_add(float* x, const void* y, const float* gate, int64_t rows, int64_t dim, void* stream,
                        const RowModulation& alt) {
  const int64_t n = rows * dim;
  if (n == 0) return;
  if (dim % 8 == 0 && aligned16(x) && aligned16(y) && (!gate || aligned16(gate)) && (!alt.mask || alt.offset % 4 == 0)) {
    gated_residual_vec_kernel<<<grid_for(n / 8), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        x, static_cast<const __nv_bfloat16*>(y), gate, n / 8, static_cast<int>(dim), alt);
    JENGA_CUDA_CHECK(cudaGetLastError());
    return;
  }
  gated_residual_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, static_cast<const __nv_bfloat16*>(y), gate, n, dim, alt);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void add_broadcast(const float* a, const float* b, float* out, int64_t n, int64_t b_len, void* stream) {
  if (n == 0) return;
  add_broadcast_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(a, b, out, n, b_len);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void broadcast_row_bf16(const void* src, void* dst, int64_t dst_stride, int64_t rows, int64_t dim, void* stream) {
  if (rows <= 0 || dim <= 0) return;
  broadcast_row_kernel<<<grid_for(rows * dim), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const __nv_bfloat16*>(src), static_cast<__nv_bfloat16*>(dst), dst_stride, rows, dim);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void copy_column_groups_bf16(const void* src, int64_t src_row, int64_t src_group, void* dst, int64_t dst_row,
                             int64_t dst_group, int64_t rows, int64_t groups, int64_t width, void* stream) {
  if (rows <= 0 || groups <= 0 || width <= 0) return;
  copy_column_groups_kernel<<<grid_for(rows * groups * width), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const __nv_bfloat16*>(src), src_row, src_group, static_cast<__nv_bfloat16*>(dst), dst_row, dst_group,
      rows, groups, width);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void axpby(float* y, float a, const float* x, float b, int64_t n, void* stream) {
  if (n <= 0) return;
  axpby_kernel<<<blocks_exact(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(y, a, x, b, n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
