#pragma once
// 3D patch gather/scatter between a latent video and token rows, with an optional token order
// (e.g. a Hilbert curve), so reordering costs nothing extra. Plain C++ header.
#include <cstdint>

namespace jenga::cuda {

// x: [C, F*pt, H*ph, W*pw] f32 (F, H, W count tokens) -> patches: [F*H*W, C*pt*ph*pw] bf16,
// row i = token order[i] (raster index f*H*W + h*W + w; order null = raster), a row ordered
// (c, i, j, k) like a Conv3d weight [out, C, pt, ph, pw] flattened.
void patchify(const float* x, void* patches, const int64_t* order, int64_t channels, int64_t frames,
              int64_t height, int64_t width, int pt, int ph, int pw, void* stream = nullptr);

// tokens: [F*H*W, pt*ph*pw*C] bf16, row i = token order[i], a row ordered (i, j, k, c) (the
// official unpatchify) -> out: [C, F*pt, H*ph, W*pw] f32.
void unpatchify(const void* tokens, float* out, const int64_t* order, int64_t channels, int64_t frames,
                int64_t height, int64_t width, int pt, int ph, int pw, void* stream = nullptr);

// The same with rows ordered (c, i, j, k), channel-major (HunyuanVideo's unpatchify, the order
// patchify reads).
void unpatchify_channel_major(const void* tokens, float* out, const int64_t* order, int64_t channels, int64_t frames,
                              int64_t height, int64_t width, int pt, int ph, int pw, void* stream = nullptr);

// A ViT's patch embedding input (CLIP's vision tower, the patch conv run as a GEMM): pixels
// [3, size, size] f32 -> out [(size/patch)^2, ld], row gy * grid + gx holding the patch's values
// ordered (c, i, j) like a Conv2d weight [out, 3, patch, patch] flattened; columns 3 patch^2 ..
// ld - 1 are zero (ld rounded up to whole 16-byte rows). out fp16 (out_f16) or f32.
void image_patches(const float* pixels, void* out, bool out_f16, int64_t size, int patch, int64_t ld,
                   void* stream = nullptr);

}  // namespace jenga::cuda
