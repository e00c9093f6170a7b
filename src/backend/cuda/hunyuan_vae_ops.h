#pragma once
// Kernels of the HunyuanVideo causal 3D VAE on CUDA (channels-last clips [t, h, w, c], f32
// activations): im2col of CausalConv3d with replicate padding and strides (bf16 rows for
// cuBLASLt), GroupNorm over a whole tile (+SiLU), the causal nearest upsample (first frame
// spatially only) and a residual add. Plain C++ header: device pointers, streams as void*.
// Written without a GPU (compile-checked only); see hunyuan_vae_cuda.h.
#include <cstdint>

namespace jenga::cuda {

// Rows [row0, row0 + rows) of the im2col matrix of a (kt x kh x kw) CausalConv3d over x
// [t, h, w, cin] f32: row (j, oy, ox) holds, per tap (dt, di, dj), the cin channels of frame
// max(0, j*tstride + dt - (kt-1)) at (clamp(oy*sstride + di - kh/2), clamp(ox*sstride + dj - kw/2))
// (F.pad replicate), as bf16 in out [rows, ldk]; columns K .. ldk-1 are zeroed.
struct HyIm2colParams {
  const float* x = nullptr;
  int64_t t = 0, h = 0, w = 0, cin = 0;
  int kt = 1, kh = 1, kw = 1, tstride = 1, sstride = 1;
  int64_t ho = 0, wo = 0;
  int64_t row0 = 0, rows = 0;
  void* out = nullptr;  // bf16 [rows, ldk]
  int64_t ldk = 0;
};
void hy_im2col(const HyIm2colParams& p, void* stream = nullptr);

// UpsampleCausal3D (nearest): x [t, h, w, c] -> y [1 + tf (t - 1), sf h, sf w, c]; output frame
// 0 reads frame 0, output frame f > 0 reads frame 1 + (f - 1) / tf.
void hy_upsample(const float* x, float* y, int64_t t, int64_t h, int64_t w, int64_t c, int tf, int sf,
                 void* stream = nullptr);

}  // namespace jenga::cuda
