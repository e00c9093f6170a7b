#pragma once
// Kernels of the Wan VAE on CUDA (channels-last frames [t, h, w, c]): im2col for the causal
// 3D / 2D convolutions (fed to cuBLASLt), the VAE RMS norm (+SiLU), the attention softmax, and
// the latent / frame layout changes at the decoder's ends. Plain C++ header: device pointers,
// bf16 as void*, streams as void*.
#include <cstdint>

namespace jenga::cuda {

// Rows of the im2col matrix of a (kt x kh x kw) convolution over a temporal window made of
// n0 frames at src0 (e.g. the causal cache) followed by the frames at src1 (the chunk): row
// (j, oy, ox) holds, for each tap (dt, di, dj) in that order, the cin input channels of window
// frame j*tstride + dt at (oy*stride + di - pad_top, ox*stride + dj - pad_left), zero outside
// the frame; columns K = kt*kh*kw*cin .. ldk-1 are left as they are (the caller zeroes them).
struct Im2colParams {
  const void* src0 = nullptr;  // [n0, hs, ws, cin]
  int64_t n0 = 0;
  const void* src1 = nullptr;  // [*, hs, ws, cin]
  bool f32_input = false;      // f32 frames (else bf16)
  int64_t cin = 0;
  int64_t h = 0, w = 0;        // logical input frame size
  bool up2 = false;            // frames are stored at h/2 x w/2 and read nearest-exact x2
  int kt = 1, kh = 1, kw = 1;
  int pad_top = 0, pad_left = 0, stride = 1, tstride = 1;
  int64_t ho = 0, wo = 0;      // output frame size
  int64_t row0 = 0, rows = 0;  // the output rows [row0, row0 + rows) of tout*ho*wo
  void* out = nullptr;         // bf16 (or f32 with out_f32) [rows, ldk]
  int64_t ldk = 0;
  bool out_f32 = false;
};
void im2col(const Im2colParams& p, void* stream = nullptr);

// One latent frame, de-normalised as official (z / (1/std) + mean) and made channels-last.
// z: [c, T, hw] f32; mean, inv_std: [c] f32 (device); out: [hw, c] f32.
void vae_latent_frame(const float* z, int64_t c, int64_t T, int64_t t, int64_t hw, const float* mean,
                      const float* inv_std, float* out, void* stream = nullptr);

// Writes decoded frames into the planar video, clamped to [-1, 1] when `clamp`.
// src: [t, hw, c] f32; dst: [c, F, hw] f32, frames [first, first + t).
void vae_frames_to_planar(const float* src, int64_t t, int64_t hw, int64_t c, float* dst, int64_t F, int64_t first,
                          bool clamp, void* stream = nullptr);

}  // namespace jenga::cuda
