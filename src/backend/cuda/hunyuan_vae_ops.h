#pragma once
// Kernels of the HunyuanVideo causal 3D VAE on CUDA (channels-last clips [t, h, w, c], f32
// activations): im2col of CausalConv3d with replicate padding and strides (bf16 rows for
// cuBLASLt), GroupNorm over a whole tile (+SiLU), the causal nearest upsample (first frame
// spatially only) and a residual add. Plain C++ header: device pointers, streams as void*.
// Written without a GPU (compile-checked only); see hunyuan_vae_cuda.h.
#include <cstdint>

namespace jenga::cuda {

// UpsampleCausal3D (nearest): x [t, h, w, c] -> y [1 + tf (t - 1), sf h, sf w, c]; output frame
// 0 reads frame 0, output frame f > 0 reads frame 1 + (f - 1) / tf.
void hy_upsample(const float* x, float* y, int64_t t, int64_t h, int64_t w, int64_t c, int tf, int sf,
                 void* stream = nullptr);

}  // namespace jenga::cuda
