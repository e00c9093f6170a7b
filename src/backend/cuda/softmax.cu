#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "backend/cuda/softmax.h"

namespace jenga::cuda {
namespace {

// Max or sum over the block, starting from warp 0's value (softmax_rows).
__device__ float block_reduce_from_first(float v, bool is_max, float* smem) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  for (int o = 16; o > 0; o >>= 1) {
    const float u = __shfl_xor_sync(0xffffffffu, v, o);
    v = is_max ? fmaxf(v, u) : v + u;
  }
  __syncthreads();
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  v = smem[0];
  for (int i = 1; i < nw; ++i) v = is_max ? fmaxf(v, smem[i]) : v + smem[i];
  return v;
}

// One block per row. frame > 0: row r (row0 + blockIdx.x overall) sees only the keys of frames up
// to its own, the first ((r / frame) + 1) * frame columns; the rest of its row is written as 0.
template <typename O>
__global__ void softmax_rows_kernel(const float* s, O* p, int64_t cols, float scale, int64_t row0 = 0,
                                    int64_t frame = 0) {
  __shared__ float smem[32];
  const float* row = s + blockIdx.x * cols;
  O* out = p + blockIdx.x * cols;
  const int64_t prefix = frame > 0 ? ((row0 + blockIdx.x) / frame + 1) * frame : cols;
  const int64_t valid = prefix < cols ? prefix : cols;
  float m = -INFINITY;
  for (int64_t i = threadIdx.x; i < valid; i += blockDim.x) m = fmaxf(m, row[i]);
  m = block_reduce_from_first(m, true, smem) * scale;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < valid; i += blockDim.x) sum += expf(row[i] * scale - m);
  sum = block_reduce_from_first(sum, false, smem);
  const float inv = 1.0f / sum;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x)
    out[i] = to_out<O>(i < valid ? expf(row[i] * scale - m) * inv : 0.0f);
}

// Max or sum over a block of kThreads, starting from -inf / 0 (softmax_causal_masked).
__device__ float block_reduce_from_identity(float v, bool is_max) {
  __shared__ float part[kThreads / 32];
  for (int o = 16; o > 0; o >>= 1) {
    const float w = __shfl_xor_sync(0xffffffffu, v, o);
    v = is_max ? fmaxf(v, w) : v + w;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = is_max ? -INFINITY : 0.0f;
  for (int k = 0; k < kThreads / 32; ++k) v = is_max ? fmaxf(v, part[k]) : v + part[k];
  return v;
}

// One block per (head, query) row; the exponentials are computed twice (sum, then output), so p
// may alias s (f32) or be a narrower buffer. Causal: keys j <= i; else every key (CLIP's vision
// tower).
template <typename Out, bool Causal>
__global__ void softmax_causal_masked_kernel(const float* s, Out* p, const uint8_t* __restrict__ key_mask, int64_t len,
                                             int64_t ld, float scale) {
  const int64_t i = Causal ? static_cast<int64_t>(blockIdx.x % len) : len - 1;  // the last visible key
  const float* row = s + blockIdx.x * ld;
  Out* out = p + blockIdx.x * ld;
  float mx = -INFINITY;
  for (int64_t j = threadIdx.x; j <= i; j += blockDim.x)
    if (key_mask[j]) mx = fmaxf(mx, scale * row[j]);
  mx = block_reduce_from_identity(mx, true);
  if (mx == -INFINITY) {
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) out[j] = to_out<Out>(1.0f / static_cast<float>(len));
    return;
  }
  float sum = 0.0f;
  for (int64_t j = threadIdx.x; j <= i; j += blockDim.x)
    if (key_mask[j]) sum += expf(scale * row[j] - mx);
  sum = block_reduce_from_identity(sum, false);
  const float inv = 1.0f / sum;
  for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
    out[j] = to_out<Out>((j <= i && key_mask[j]) ? expf(scale * row[j] - mx) * inv : 0.0f);
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

}  // namespace

void softmax_rows(const float* s, void* p, bool p_f32, int64_t rows, int64_t cols, float scale, void* stream) {
  if (rows <= 0) return;
  if (p_f32)
    softmax_rows_kernel<<<static_cast<unsigned>(rows), 256, 0, as_stream(stream)>>>(s, static_cast<float*>(p), cols,
                                                                                   scale);
  else
    softmax_rows_kernel<<<static_cast<unsigned>(rows), 256, 0, as_stream(stream)>>>(
        s, static_cast<__nv_bfloat16*>(p), cols, scale);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void softmax_rows_f16(const float* s, void* p, int64_t rows, int64_t cols, float scale, void* stream) {
  softmax_rows_frame_causal_f16(s, p, rows, cols, 0, 0, scale, stream);
}

void softmax_rows_frame_causal_f16(const float* s, void* p, int64_t rows, int64_t cols, int64_t row0, int64_t frame,
                                   float scale, void* stream) {
  if (rows <= 0) return;
  softmax_rows_kernel<<<static_cast<unsigned>(rows), 256, 0, as_stream(stream)>>>(s, static_cast<__half*>(p), cols, scale,
                                                                                 row0, frame);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

namespace {

template <bool Causal>
void launch_softmax_masked(const float* s, void* p, bool p_f16, const uint8_t* key_mask, int64_t heads, int64_t len,
                           int64_t ld, float scale, void* stream) {
  if (len <= 0 || heads <= 0) return;
  const unsigned g = static_cast<unsigned>(heads * len);
  if (p_f16)
    softmax_causal_masked_kernel<__half, Causal><<<g, kThreads, 0, as_stream(stream)>>>(
        s, static_cast<__half*>(p), key_mask, len, ld, scale);
  else
    softmax_causal_masked_kernel<float, Causal><<<g, kThreads, 0, as_stream(stream)>>>(
        s, static_cast<float*>(p), key_mask, len, ld, scale);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void softmax_causal_masked(const float* s, void* p, bool p_f16, const uint8_t* key_mask, int64_t heads, int64_t len,
                           int64_t ld, float scale, void* stream) {
  launch_softmax_masked<true>(s, p, p_f16, key_mask, heads, len, ld, scale, stream);
}

void softmax_key_masked(const float* s, void* p, bool p_f16, const uint8_t* key_mask, int64_t heads, int64_t len,
                        int64_t ld, float scale, void* stream) {
  launch_softmax_masked<false>(s, p, p_f16, key_mask, heads, len, ld, scale, stream);
}

void softmax_rel_bias(const float* s, void* p, const float* pos, const int32_t* bucket, int64_t center,
                      const uint8_t* key_mask, int64_t heads, int64_t len, void* stream) {
  const int64_t rows = heads * len;
  if (rows == 0) return;
  const int warps = kThreads / 32;
  const unsigned g = static_cast<unsigned>((rows + warps - 1) / warps);
  auto* out = static_cast<__nv_bfloat16*>(p);
  const int H = static_cast<int>(heads), L = static_cast<int>(len);
  if (len <= 128)
    softmax_rel_bias_kernel<4><<<g, kThreads, 0, as_stream(stream)>>>(s, out, pos, bucket, center, key_mask, H, L);
  else if (len <= 512)
    softmax_rel_bias_kernel<16><<<g, kThreads, 0, as_stream(stream)>>>(s, out, pos, bucket, center, key_mask, H, L);
  else
    softmax_rel_bias_long_kernel<<<g, kThreads, 0, as_stream(stream)>>>(s, out, pos, bucket, center, key_mask, H, L);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
