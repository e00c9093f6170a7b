#pragma once
// The epilogue both 3x3x3 conv kernels share (conv3d_igemm.cu's mma.sync one and
// conv3d_wgmma.cu's Hopper one): where a row of the padded grid lands in y, and the store of two
// neighbouring output channels with bias (+ y's old value), rounded once.
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

// y[orow + c], y[orow + c + 1] = v + bias (+ old), channels past cout skipped.
__device__ __forceinline__ void conv_store_pair(const Conv3x3x3Params& p, int64_t orow, int c, float v0, float v1) {
  const float v[2] = {v0, v1};
  if (p.y_f32) {
    float* y = static_cast<float*>(p.y) + orow;
#pragma unroll
    for (int e = 0; e < 2; ++e)
      if (c + e < p.cout) y[c + e] = v[e] + p.bias[c + e] + (p.accumulate ? y[c + e] : 0.0f);
    return;
  }
  __half* y = static_cast<__half*>(p.y) + orow;
  if (c + 1 < p.cout && p.cout % 2 == 0) {
    float2 o = make_float2(v[0] + p.bias[c], v[1] + p.bias[c + 1]);
    if (p.accumulate) {
      const float2 old = __half22float2(*reinterpret_cast<const __half2*>(y + c));
      o.x += old.x, o.y += old.y;
    }
    *reinterpret_cast<__half2*>(y + c) = __floats2half2_rn(o.x, o.y);
  } else {
#pragma unroll
    for (int e = 0; e < 2; ++e)
      if (c + e < p.cout) y[c + e] = __float2half_rn(v[e] + p.bias[c + e] + (p.accumulate ? __half2float(y[c + e]) : 0.0f));
  }
}

}  // namespace jenga::cuda
