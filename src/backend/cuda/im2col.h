#pragma once
// im2col for convolutions run as cuBLASLt GEMMs over channels-last frames [t, h, w, c]: zero
// padding with a causal frame cache and optional nearest x2 input (the Wan VAE), and replicate
// padding with the causal first-frame repeat and strides (HunyuanVideo's VAE). Two kernels: the
// borders differ. Plain C++ header: device pointers, bf16 as void*, streams as void*.
#include <cstdint>

namespace jenga::cuda {

// The Wan VAE's causal 3D / 2D convs (zero padding): rows of the im2col matrix of a (kt x kh x kw) convolution over a temporal window made of
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

// HunyuanVideo's CausalConv3d in fp16 (as the official runs it): rows [row0, row0 + rows) of the im2col matrix
// of a (kt x kh x kw) conv over a logical input [t, h, w, cin]: row (j, oy, ox) holds, per tap
// (dt, di, dj), the cin channels of frame max(0, j*tstride + dt - (kt-1)) at
// (clamp(oy*sstride + di - kh/2), clamp(ox*sstride + dj - kw/2)) (F.pad replicate), in out [rows, ldk];
// columns K .. ldk-1 are zeroed. Two fusions spare a pass (and a buffer) each:
// - pre-activation: v * scale[ci] + shift[ci], then SiLU when `silu` (a GroupNorm folded into
//   per-channel coefficients; replicate padding commutes with it);
// - UpsampleCausal3D (nearest) of the stored clip x [1 + (t-1)/up_t, h/up_s, w/up_s, cin]: logical
//   frame f reads stored frame (f == 0 ? 0 : 1 + (f-1)/up_t), pixel (y/up_s, x/up_s).
struct Im2colReplicateParams {
  const void* x = nullptr;  // fp16, the stored clip
  int64_t t = 0, h = 0, w = 0, cin = 0;  // the logical input (after the upsample)
  int up_t = 1, up_s = 1;
  const float* scale = nullptr;  // [cin] f32 (device) or null: no pre-activation
  const float* shift = nullptr;  // [cin] f32 (device), with scale
  bool silu = false;
  int kt = 1, kh = 1, kw = 1, tstride = 1, sstride = 1;
  int64_t ho = 0, wo = 0;
  int64_t row0 = 0, rows = 0;
  void* out = nullptr;  // fp16 [rows, ldk]
  int64_t ldk = 0;
};
void im2col_replicate(const Im2colReplicateParams& p, void* stream = nullptr);

}  // namespace jenga::cuda
