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

}  // namespace jenga::cuda
