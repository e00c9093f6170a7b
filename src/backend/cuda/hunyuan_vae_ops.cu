#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/hunyuan_vae_ops.h"

namespace jenga::cuda {

namespace {

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

unsigned blocks_for(int64_t n, int threads) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((n + threads - 1) / threads, int64_t{1} << 20)));
}

__device__ int64_t clamp_index(int64_t v, int64_t n) { return v < 0 ? 0 : (v >= n ? n - 1 : v); }

// One thread per output element (row, column); columns are (dt, di, dj, ci) as PackedConv.
__global__ void hy_im2col_kernel(HyIm2colParams p) {
  const int64_t total = p.rows * p.ldk;
  const int64_t k = static_cast<int64_t>(p.kt) * p.kh * p.kw * p.cin;
  __nv_bfloat16* out = static_cast<__nv_bfloat16*>(p.out);
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = e / p.ldk, col = e % p.ldk;
    if (col >= k) {
      out[e] = __float2bfloat16_rn(0.0f);
      continue;
    }
    const int64_t row = p.row0 + r;
    const int64_t ox = row % p.wo, rest = row / p.wo, oy = rest % p.ho, j = rest / p.ho;
    const int64_t ci = col % p.cin, tap = col / p.cin;
    const int64_t dj = tap % p.kw, di = (tap / p.kw) % p.kh, dt = tap / (static_cast<int64_t>(p.kw) * p.kh);
    const int64_t fw = j * p.tstride + dt - (p.kt - 1), f = fw < 0 ? 0 : fw;
    const int64_t iy = clamp_index(oy * p.sstride + di - p.kh / 2, p.h);
    const int64_t ix = clamp_index(ox * p.sstride + dj - p.kw / 2, p.w);
    out[e] = __float2bfloat16_rn(p.x[((f * p.h + iy) * p.w + ix) * p.cin + ci]);
  }
}

__global__ void hy_upsample_kernel(const float* x, float* y, int64_t t, int64_t h, int64_t w, int64_t c, int tf,
                                   int sf) {
  const int64_t to = 1 + tf * (t - 1), ho = h * sf, wo = w * sf, total = to * ho * wo * c;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t ch = e % c, px = e / c, ox = px % wo, oy = (px / wo) % ho, f = px / (wo * ho);
    const int64_t src = f == 0 ? 0 : 1 + (f - 1) / tf;
    y[e] = x[((src * h + oy / sf) * w + ox / sf) * c + ch];
  }
}

}  // namespace

void hy_im2col(const HyIm2colParams& p, void* stream) {
  hy_im2col_kernel<<<blocks_for(p.rows * p.ldk, 256), 256, 0, as_stream(stream)>>>(p);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void hy_upsample(const float* x, float* y, int64_t t, int64_t h, int64_t w, int64_t c, int tf, int sf, void* stream) {
  hy_upsample_kernel<<<blocks_for((1 + tf * (t - 1)) * h * sf * w * sf * c, 256), 256, 0, as_stream(stream)>>>(
      x, y, t, h, w, c, tf, sf);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
