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

__global__ void gated_gelu_kernel(const float* __restrict__ gf, __nv_bfloat16* __restrict__ out, int64_t rows,
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

__global__ void embedding_gather_kernel(const __nv_bfloat16* __restrict__ table, const int32_t* __restrict__ ids,
                                        float* __restrict__ x, int64_t rows, int64_t dim) {
  const int64_t n = rows * dim;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[i] = __bfloat162float(table[static_cast<int64_t>(ids[i / dim]) * dim + i % dim]);
}

// One warp per (head, query) row; a row of up to 32 * N keys stays in registers (one read of
// the scores, one write of the probabilities).
template <int N>
__global__ void softmax_rel_bias_kernel(const float* __restrict__ s, __nv_bfloat16* __restrict__ p,
                                        const float* __restrict__ pos, const int32_t* __restrict__ bucket,
                                        int64_t center, const uint8_t* __restrict__ key_mask, int heads, int len) {
  const int64_t row = blockIdx.x * static_cast<int64_t>(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= static_cast<int64_t>(heads) * len) return;
  const int h = static_cast<int>(row / len), i = static_cast<int>(row % len);
  const float* sr = s + row * len;
  __nv_bfloat16* pr = p + row * len;
  const int32_t* b = bucket + center - i;  // b[j] = bucket of (j - i)
  float v[N];
  float mx = -INFINITY;
#pragma unroll
  for (int k = 0; k < N; ++k) {
    const int j = lane + 32 * k;
    v[k] = (j < len && key_mask[j]) ? sr[j] + pos[b[j] * heads + h] : -INFINITY;
    mx = fmaxf(mx, v[k]);
  }
  mx = warp_max(mx);
  if (mx == -INFINITY) {  // no key left: uniform, as the CPU reference does
    for (int j = lane; j < len; j += 32) pr[j] = __float2bfloat16_rn(1.0f / static_cast<float>(len));
    return;
  }
  float sum = 0.0f;
#pragma unroll
  for (int k = 0; k < N; ++k) {
    v[k] = __expf(v[k] - mx);  // exp(-inf) = 0 for masked keys
    sum += v[k];
  }
  const float inv = 1.0f / warp_sum(sum);
#pragma unroll
  for (int k = 0; k < N; ++k) {
    const int j = lane + 32 * k;
    if (j < len) pr[j] = __float2bfloat16_rn(v[k] * inv);
  }
}

// Any length: three passes over the row (max, sum, write).
__global__ void softmax_rel_bias_long_kernel(const float* __restrict__ s, __nv_bfloat16* __restrict__ p,
                                             const float* __restrict__ pos, const int32_t* __restrict__ bucket,
                                             int64_t center, const uint8_t* __restrict__ key_mask, int heads, int len) {
  const int64_t row = blockIdx.x * static_cast<int64_t>(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= static_cast<int64_t>(heads) * len) return;
  const int h = static_cast<int>(row / len), i = static_cast<int>(row % len);
  const float* sr = s + row * len;
  __nv_bfloat16* pr = p + row * len;
  const int32_t* b = bucket + center - i;
  auto logit = [&](int j) { return key_mask[j] ? sr[j] + pos[b[j] * heads + h] : -INFINITY; };
  float mx = -INFINITY;
  for (int j = lane; j < len; j += 32) mx = fmaxf(mx, logit(j));
  mx = warp_max(mx);
  if (mx == -INFINITY) {
    for (int j = lane; j < len; j += 32) pr[j] = __float2bfloat16_rn(1.0f / static_cast<float>(len));
    return;
  }
  float sum = 0.0f;
  for (int j = lane; j < len; j += 32) sum += __expf(logit(j) - mx);
  const float inv = 1.0f / warp_sum(sum);
  for (int j = lane; j < len; j += 32) pr[j] = __float2bfloat16_rn(__expf(logit(j) - mx) * inv);
}

int grid_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65536 * 4 ? b : 65536 * 4);
}

cudaStream_t st(void* s) { return static_cast<cudaStream_t>(s); }

}  // namespace

void t5_gated_gelu(const float* gf, void* out, int64_t rows, int64_t ffn, void* stream) {
  if (rows * ffn == 0) return;
  gated_gelu_kernel<<<grid_for(rows * ffn), kThreads, 0, st(stream)>>>(gf, static_cast<__nv_bfloat16*>(out), rows, ffn);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void embedding_gather(const void* table, const int32_t* ids, float* x, int64_t rows, int64_t dim, void* stream) {
  if (rows * dim == 0) return;
  embedding_gather_kernel<<<grid_for(rows * dim), kThreads, 0, st(stream)>>>(
      static_cast<const __nv_bfloat16*>(table), ids, x, rows, dim);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void t5_softmax_rel_bias(const float* s, void* p, const float* pos, const int32_t* bucket, int64_t center,
                         const uint8_t* key_mask, int64_t heads, int64_t len, void* stream) {
  const int64_t rows = heads * len;
  if (rows == 0) return;
  const int warps = kThreads / 32;
  const unsigned g = static_cast<unsigned>((rows + warps - 1) / warps);
  auto* out = static_cast<__nv_bfloat16*>(p);
  const int H = static_cast<int>(heads), L = static_cast<int>(len);
  if (len <= 128)
    softmax_rel_bias_kernel<4><<<g, kThreads, 0, st(stream)>>>(s, out, pos, bucket, center, key_mask, H, L);
  else if (len <= 512)
    softmax_rel_bias_kernel<16><<<g, kThreads, 0, st(stream)>>>(s, out, pos, bucket, center, key_mask, H, L);
  else
    softmax_rel_bias_long_kernel<<<g, kThreads, 0, st(stream)>>>(s, out, pos, bucket, center, key_mask, H, L);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
