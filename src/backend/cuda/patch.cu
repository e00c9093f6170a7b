#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/patch.h"

namespace jenga::cuda {
namespace {

constexpr int kThreads = 256;

struct Grid {
  int64_t C, F, H, W;
  int pt, ph, pw;
  __device__ int64_t P() const { return static_cast<int64_t>(pt) * ph * pw; }
  // Flat index into [C, F*pt, H*ph, W*pw] of channel c, token raster r, in-patch (a, b, d).
  __device__ int64_t latent_index(int64_t c, int64_t r, int a, int b, int d) const {
    const int64_t f = r / (H * W), h = (r / W) % H, w = r % W;
    const int64_t FT = F * pt, HT = H * ph, WT = W * pw;
    return ((c * FT + f * pt + a) * HT + h * ph + b) * WT + w * pw + d;
  }
};

__global__ void patchify_kernel(const float* __restrict__ x, __nv_bfloat16* __restrict__ out,
                                const int64_t* __restrict__ order, Grid g, int64_t n) {
  const int64_t cols = g.C * g.P();
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = e / cols, col = e % cols;
    const int64_t c = col / g.P();
    const int64_t p = col % g.P();
    const int a = static_cast<int>(p / (g.ph * g.pw)), b = static_cast<int>((p / g.pw) % g.ph),
              d = static_cast<int>(p % g.pw);
    const int64_t r = order ? order[i] : i;
    out[e] = __float2bfloat16_rn(x[g.latent_index(c, r, a, b, d)]);
  }
}

template <bool CHANNEL_MAJOR>
__global__ void unpatchify_kernel(const __nv_bfloat16* __restrict__ tok, float* __restrict__ out,
                                  const int64_t* __restrict__ order, Grid g, int64_t n) {
  const int64_t cols = g.C * g.P();
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = e / cols, col = e % cols;
    const int64_t p = CHANNEL_MAJOR ? col % g.P() : col / g.C, c = CHANNEL_MAJOR ? col / g.P() : col % g.C;
    const int a = static_cast<int>(p / (g.ph * g.pw)), b = static_cast<int>((p / g.pw) % g.ph),
              d = static_cast<int>(p % g.pw);
    const int64_t r = order ? order[i] : i;
    out[g.latent_index(c, r, a, b, d)] = __bfloat162float(tok[e]);
  }
}

int grid_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65536 * 4 ? b : 65536 * 4);
}

// One thread per element of the [rows, ld] patch matrix (grid-stride).
template <typename Out>
__global__ void image_patches_kernel(const float* __restrict__ px, Out* __restrict__ out, int64_t size, int patch,
                                     int64_t ld, int64_t n) {
  const int64_t grid = size / patch, pp = static_cast<int64_t>(patch) * patch;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = e / ld, col = e % ld, c = col / pp, i = (col % pp) / patch, j = col % patch;
    const int64_t gy = r / grid, gx = r % grid;
    // Columns past channels * patch^2 (c >= channels) are the zero padding.
    const float v = c < 3 ? px[(c * size + gy * patch + i) * size + gx * patch + j] : 0.0f;
    if constexpr (sizeof(Out) == 2)
      out[e] = __float2half_rn(v);
    else
      out[e] = v;
  }
}

}  // namespace

void patchify(const float* x, void* patches, const int64_t* order, int64_t channels, int64_t frames,
              int64_t height, int64_t width, int pt, int ph, int pw, void* stream) {
  const Grid g{channels, frames, height, width, pt, ph, pw};
  const int64_t n = frames * height * width * channels * pt * ph * pw;
  if (n == 0) return;
  patchify_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, static_cast<__nv_bfloat16*>(patches), order, g, n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void unpatchify(const void* tokens, float* out, const int64_t* order, int64_t channels, int64_t frames,
                int64_t height, int64_t width, int pt, int ph, int pw, void* stream) {
  const Grid g{channels, frames, height, width, pt, ph, pw};
  const int64_t n = frames * height * width * channels * pt * ph * pw;
  if (n == 0) return;
  unpatchify_kernel<false><<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const __nv_bfloat16*>(tokens), out, order, g, n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void unpatchify_channel_major(const void* tokens, float* out, const int64_t* order, int64_t channels, int64_t frames,
                              int64_t height, int64_t width, int pt, int ph, int pw, void* stream) {
  const Grid g{channels, frames, height, width, pt, ph, pw};
  const int64_t n = frames * height * width * channels * pt * ph * pw;
  if (n == 0) return;
  unpatchify_kernel<true><<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const __nv_bfloat16*>(tokens), out, order, g, n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void image_patches(const float* pixels, void* out, bool out_f16, int64_t size, int patch, int64_t ld, void* stream) {
  const int64_t grid = size / patch, n = grid * grid * ld;
  if (n == 0) return;
  if (out_f16)
    image_patches_kernel<__half><<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        pixels, static_cast<__half*>(out), size, patch, ld, n);
  else
    image_patches_kernel<float><<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        pixels, static_cast<float*>(out), size, patch, ld, n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
