#pragma once
// Device helpers the op-family kernels share (norm, rope, softmax, ...): warp and block
// reductions, bf16 vectors, launch sizes. Each is the exact code the kernels used before they
// were grouped by family (same shuffle order, same grid caps), so results stay bit-identical.
// Included by .cu files only.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace jenga::cuda {
namespace {

constexpr int kThreads = 256;

inline cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

// Grid-stride launches of kThreads: blocks for n elements, at most 65536 * 4.
inline int grid_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65536 * 4 ? b : 65536 * 4);
}

// Grid-stride launches of `threads`: at least 1 block, at most 2^20.
inline unsigned blocks_for(int64_t n, int threads) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((n + threads - 1) / threads, int64_t{1} << 20)));
}

// One thread per element (no grid stride): every element gets a thread.
inline unsigned blocks_exact(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Threads for a row of nv vectors at VPT vectors a thread: a multiple of 32.
inline unsigned row_threads(int64_t nv, int vpt) { return static_cast<unsigned>(((nv + vpt - 1) / vpt + 31) / 32 * 32); }

__device__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over a block of kThreads threads (every thread gets it).
__device__ float block_sum(float v) {
  __shared__ float warp_sums[kThreads / 32];
  v = warp_sum(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // warp_sums may still be read by a previous call
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  return warp_sum(lane < kThreads / 32 ? warp_sums[lane] : 0.0f);
}

// Sums over a block of any multiple-of-32 size (<= 1024), two values at once.
__device__ float2 block_sum2(float2 v) {
  __shared__ float2 warp_sums[32];
  for (int o = 16; o > 0; o >>= 1) {
    v.x += __shfl_xor_sync(0xffffffffu, v.x, o);
    v.y += __shfl_xor_sync(0xffffffffu, v.y, o);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  float2 t = lane < warps ? warp_sums[lane] : make_float2(0.0f, 0.0f);
  for (int o = 16; o > 0; o >>= 1) {
    t.x += __shfl_xor_sync(0xffffffffu, t.x, o);
    t.y += __shfl_xor_sync(0xffffffffu, t.y, o);
  }
  return t;
}

// Whether row r reads the second set of modulation vectors (elementwise.h's RowModulation).
__device__ __forceinline__ bool alt_row(const uint8_t* mask, int64_t rows, int64_t r) {
  return mask != nullptr && r < rows && mask[r] != 0;
}

__device__ __forceinline__ float round_bf16(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

// Sum of squares of 8 bf16 values packed in 16 bytes.
__device__ __forceinline__ float sum_squares8(const uint4& v) {
  const __nv_bfloat162* p = reinterpret_cast<const __nv_bfloat162*>(&v);
  float s = 0.0f;
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const float2 f = __bfloat1622float2(p[e]);
    s += f.x * f.x + f.y * f.y;
  }
  return s;
}

// A computed f32 value in the output's type (bf16 / fp16 round to nearest even).
template <typename O>
__device__ O to_out(float v);
template <>
__device__ __nv_bfloat16 to_out<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <>
__device__ float to_out<float>(float v) { return v; }
template <>
__device__ __half to_out<__half>(float v) { return __float2half_rn(v); }

}  // namespace
}  // namespace jenga::cuda
