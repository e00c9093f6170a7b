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

void hy_upsample(const float* x, float* y, int64_t t, int64_t h, int64_t w, int64_t c, int tf, int sf, void* stream) {
  hy_upsample_kernel<<<blocks_for((1 + tf * (t - 1)) * h * sf * w * sf * c, 256), 256, 0, as_stream(stream)>>>(
      x, y, t, h, w, c, tf, sf);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
