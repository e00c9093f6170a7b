#pragma once
// Layout changes of video tensors between a VAE's planar latents / frames and its channels-last
// clips: a latent frame de-normalised into channels-last and decoded frames into the planar video
// (HunyuanVideo's causal upsample is read in place by im2col_replicate). Plain C++ header: device
// pointers, streams as void*.
#include <cstdint>

namespace jenga::cuda {

// One latent frame of the Wan VAE's decoder, de-normalised as official (z / (1/std) + mean)
// and made channels-last.
// z: [c, T, hw] f32; mean, inv_std: [c] f32 (device); out: [hw, c] f32.
void denormalize_latent_frame(const float* z, int64_t c, int64_t T, int64_t t, int64_t hw, const float* mean,
                              const float* inv_std, float* out, void* stream = nullptr);

// Writes decoded frames into the planar video, clamped to [-1, 1] when `clamp`.
// src: [t, hw, c] f32; dst: [c, F, hw] f32, frames [first, first + t).
void frames_to_planar(const float* src, int64_t t, int64_t hw, int64_t c, float* dst, int64_t F, int64_t first,
                      bool clamp, void* stream = nullptr);

}  // namespace jenga::cuda
