#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "backend/cuda/video_layout.h"

namespace jenga::cuda {
namespace {

__global__ void latent_frame_kernel(const float* z, int64_t c, int64_t T, int64_t t, int64_t hw, const float* mean,
                                    const float* inv_std, float* out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < hw * c; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t ch = i % c, p = i / c;
    out[i] = z[(ch * T + t) * hw + p] / inv_std[ch] + mean[ch];
  }
}

__global__ void frames_to_planar_kernel(const float* src, int64_t t, int64_t hw, int64_t c, float* dst, int64_t F,
                                        int64_t first, bool clamp) {
  const int64_t n = t * hw * c;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    // i enumerates the destination (c, frame, pixel) so the writes are coalesced.
    const int64_t p = i % hw, rest = i / hw, f = rest % t, ch = rest / t;
    float v = src[(f * hw + p) * c + ch];
    if (clamp) v = fminf(fmaxf(v, -1.0f), 1.0f);
    dst[(ch * F + first + f) * hw + p] = v;
  }
}

__global__ void upsample_nearest_causal_kernel(const float* x, float* y, int64_t t, int64_t h, int64_t w, int64_t c, int tf,
                                               int sf) {
  const int64_t to = 1 + tf * (t - 1), ho = h * sf, wo = w * sf, total = to * ho * wo * c;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < total; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t ch = e % c, px = e / c, ox = px % wo, oy = (px / wo) % ho, f = px / (wo * ho);
    const int64_t src = f == 0 ? 0 : 1 + (f - 1) / tf;
    y[e] = x[((src * h + oy / sf) * w + ox / sf) * c + ch];
  }
}

}  // namespace

void denormalize_latent_frame(const float* z, int64_t c, int64_t T, int64_t t, int64_t hw, const float* mean,
                              const float* inv_std, float* out, void* stream) {
  latent_frame_kernel<<<blocks_for(hw * c, 256), 256, 0, as_stream(stream)>>>(z, c, T, t, hw, mean, inv_std, out);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void frames_to_planar(const float* src, int64_t t, int64_t hw, int64_t c, float* dst, int64_t F, int64_t first,
                      bool clamp, void* stream) {
  if (t <= 0) return;
  frames_to_planar_kernel<<<blocks_for(t * hw * c, 256), 256, 0, as_stream(stream)>>>(src, t, hw, c, dst, F, first,
                                                                                     clamp);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void upsample_nearest_causal(const float* x, float* y, int64_t t, int64_t h, int64_t w, int64_t c, int tf, int sf, void* stream) {
  upsample_nearest_causal_kernel<<<blocks_for((1 + tf * (t - 1)) * h * sf * w * sf * c, 256), 256, 0, as_stream(stream)>>>(
      x, y, t, h, w, c, tf, sf);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
