#pragma once
// The epilogue both 3x3x3 conv kernels share (conv3d_igemm.cu's mma.sync one and
// conv3d_wgmma.cu's Hopper one): where a row of the padded grid lands in y, the store of two
// neighbouring output channels with bias (+ y's old value), rounded once, and the per-channel
// sums of what was stored (the next GroupNorm's statistics, so it need not read y again).
#include <cuda_fp16.h>

#include <cstdint>

#include "backend/cuda/conv3d_igemm.h"

namespace jenga::cuda {

// First element of padded-grid row r's output pixel in y, or -1 for a row past the chunk or in
// the padding (y >= h or x >= w: computed and dropped).
__device__ __forceinline__ int64_t conv_out_offset(const Conv3x3x3Params& p, int64_t r) {
  const int64_t hp = p.h + 2, wp = p.w + 2;
  if (r >= p.tout * hp * wp) return -1;
  const int64_t xx = r % wp, rest = r / wp, yy = rest % hp, j = rest / hp;
  if (yy >= p.h || xx >= p.w) return -1;
  return ((j * p.h + yy) * p.w + xx) * p.cout;
}

// y's old values at (orow, c) and (orow, c + 1) as f32, 0 past cout: an epilogue that loads all
// it adds before it stores anything lets the loads overlap (a load after a store to an address
// the compiler cannot tell apart would wait for it).
__device__ __forceinline__ float2 conv_load_old(const Conv3x3x3Params& p, int64_t orow, int c) {
  float o[2] = {0.0f, 0.0f};
  if (p.y_f32) {
    const float* y = static_cast<const float*>(p.y) + orow;
#pragma unroll
    for (int e = 0; e < 2; ++e)
      if (c + e < p.cout) o[e] = y[c + e];
    return make_float2(o[0], o[1]);
  }
  const __half* y = static_cast<const __half*>(p.y) + orow;
  if (c + 1 < p.cout && p.cout % 2 == 0) return __half22float2(*reinterpret_cast<const __half2*>(y + c));
#pragma unroll
  for (int e = 0; e < 2; ++e)
    if (c + e < p.cout) o[e] = __half2float(y[c + e]);
  return make_float2(o[0], o[1]);
}

// y[orow + c], y[orow + c + 1] = v + bias (+ old, y's values before, from conv_load_old, when
// accumulating), channels past cout skipped. Returns what was stored (fp16-rounded for fp16
// results, as the next GroupNorm reads it), 0 past cout.
__device__ __forceinline__ float2 conv_store_pair(const Conv3x3x3Params& p, int64_t orow, int c, float v0, float v1,
                                                  float2 old) {
  float v[2] = {v0, v1};
  const float prev[2] = {old.x, old.y};
  if (p.y_f32) {
    float* y = static_cast<float*>(p.y) + orow;
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      if (c + e < p.cout) {
        v[e] += p.bias[c + e] + (p.accumulate ? prev[e] : 0.0f);
        y[c + e] = v[e];
      } else {
        v[e] = 0.0f;
      }
    }
    return make_float2(v[0], v[1]);
  }
  __half* y = static_cast<__half*>(p.y) + orow;
  if (c + 1 < p.cout && p.cout % 2 == 0) {
    float2 o = make_float2(v[0] + p.bias[c], v[1] + p.bias[c + 1]);
    if (p.accumulate) o.x += prev[0], o.y += prev[1];
    const __half2 h = __floats2half2_rn(o.x, o.y);
    *reinterpret_cast<__half2*>(y + c) = h;
    return __half22float2(h);
  }
#pragma unroll
  for (int e = 0; e < 2; ++e) {
    if (c + e < p.cout) {
      const __half h = __float2half_rn(v[e] + p.bias[c + e] + (p.accumulate ? prev[e] : 0.0f));
      y[c + e] = h;
      v[e] = __half2float(h);
    } else {
      v[e] = 0.0f;
    }
  }
  return make_float2(v[0], v[1]);
}

// The same, loading the old values itself (one load before each store).
__device__ __forceinline__ float2 conv_store_pair(const Conv3x3x3Params& p, int64_t orow, int c, float v0, float v1) {
  return conv_store_pair(p, orow, c, v0, v1, p.accumulate ? conv_load_old(p, orow, c) : make_float2(0.0f, 0.0f));
}

// Per-channel statistics (Conv3x3x3Params::stats) of a column pair: s = (sum0, sq0, sum1, sq1)
// over this lane's rows, summed over the 8 lanes that hold the same columns (same lane % 4; every
// lane of the warp must call): lanes 0-3 then hold the warp's sums.
__device__ __forceinline__ void conv_stats_reduce_rows(float4& s) {
#pragma unroll
  for (int o = 4; o < 32; o <<= 1) {
    s.x += __shfl_xor_sync(0xffffffffu, s.x, o), s.y += __shfl_xor_sync(0xffffffffu, s.y, o);
    s.z += __shfl_xor_sync(0xffffffffu, s.z, o), s.w += __shfl_xor_sync(0xffffffffu, s.w, o);
  }
}

// conv_stats_reduce_rows, then lanes 0-3 add the sums to st[2 * ch], st[2 * ch + 1] (shared
// doubles, ch = the first column's index in st) where the column is below `limit`.
__device__ __forceinline__ void conv_stats_add(double* st, int ch, int limit, float4 s, int lane) {
  conv_stats_reduce_rows(s);
  if (lane >= 4) return;
  if (ch < limit) atomicAdd(&st[2 * ch], static_cast<double>(s.x)), atomicAdd(&st[2 * ch + 1], static_cast<double>(s.y));
  if (ch + 1 < limit)
    atomicAdd(&st[2 * ch + 2], static_cast<double>(s.z)), atomicAdd(&st[2 * ch + 3], static_cast<double>(s.w));
}

}  // namespace jenga::cuda
