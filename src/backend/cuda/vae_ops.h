#pragma once
// Kernels of the Wan VAE on CUDA (channels-last frames [t, h, w, c]): im2col for the causal
// 3D / 2D convolutions (fed to cuBLASLt), the VAE RMS norm (+SiLU), the attention softmax, and
// the latent / frame layout changes at the decoder's ends. Plain C++ header: device pointers,
// bf16 as void*, streams as void*.
#include <cstdint>

namespace jenga::cuda {

// One latent frame, de-normalised as official (z / (1/std) + mean) and made channels-last.
// z: [c, T, hw] f32; mean, inv_std: [c] f32 (device); out: [hw, c] f32.
void vae_latent_frame(const float* z, int64_t c, int64_t T, int64_t t, int64_t hw, const float* mean,
                      const float* inv_std, float* out, void* stream = nullptr);

// Writes decoded frames into the planar video, clamped to [-1, 1] when `clamp`.
// src: [t, hw, c] f32; dst: [c, F, hw] f32, frames [first, first + t).
void vae_frames_to_planar(const float* src, int64_t t, int64_t hw, int64_t c, float* dst, int64_t F, int64_t first,
                          bool clamp, void* stream = nullptr);

}  // namespace jenga::cuda
