#pragma once
// Normalisations, one kernel per computation, whichever model calls it: LayerNorm (+ affine,
// + modulation, + the residual add before it), RMSNorm of bf16 rows and of f32 rows, the Wan
// VAE's L2 normalisation and GroupNorm. Plain C++ header: bf16 tensors are void* (device), f32
// tensors float*, streams void*. All row-major, contiguous unless a stride is given.
#include <cstdint>

#include "backend/cuda/elementwise.h"

namespace jenga::cuda {

// y = LN(x) [* w + b] [* (1 + scale) + shift], f32 statistics, bf16 output.
// x: [rows, dim] f32; w, b: [dim] f32 or null (no affine); shift, scale: [dim] f32 or null.
// alt: per-row shift / scale (elementwise.h's RowModulation).
void layer_norm_modulate(const float* x, const float* w, const float* b, const float* shift,
                         const float* scale, void* y, int64_t rows, int64_t dim, float eps,
                         void* stream = nullptr, const RowModulation& alt = {});

// x += add * gate (add bf16 [rows, dim]; gate [dim] or null = 1), then y = layer_norm_modulate(x):
// the residual update and the next norm in one pass over the f32 stream. alt: per-row gate,
// shift and scale.
void add_layer_norm_modulate(float* x, const void* add, const float* gate, const float* w, const float* b,
                             const float* shift, const float* scale, void* y, int64_t rows, int64_t dim, float eps,
                             void* stream = nullptr, const RowModulation& alt = {});

// y = x * rsqrt(mean(x^2) + eps) * w, f32 statistics. x, y: [rows, dim] bf16 with row strides
// in elements (the q/k slices of a fused QKV output); may alias.
void rms_norm(const void* x, int64_t x_stride, const float* w, void* y, int64_t y_stride,
              int64_t rows, int64_t dim, float eps, void* stream = nullptr);

// y = x * rsqrt(mean(x^2) + eps) * w, f32 statistics (T5's and Llama's RMSNorm: umT5's f32
// residual stream, the Llama encoder's). x: [rows, dim] f32; w: [dim] f32; y: [rows, dim] bf16,
// or f32 when y_f32 (umT5's final norm, whose output leaves the encoder; the Llama encoder).
void rms_norm_f32(const float* x, const float* w, void* y, bool y_f32, int64_t rows, int64_t dim, float eps,
                  void* stream = nullptr);
// The same with an fp16 y: the Llama encoder's fp16 GEMM inputs from its f32 residual stream.
void rms_norm_f32_to_f16(const float* x, const float* w, void* y, int64_t rows, int64_t dim, float eps,
                         void* stream = nullptr);
// y = LN(x) * w + b over f32 rows (f32 statistics; layer_norm_modulate's kernel) with an fp16
// (y_f16) or f32 y: CLIP's LayerNorms on its f32 residual stream. w, b: [dim] f32.
void layer_norm_f32(const float* x, const float* w, const float* b, void* y, bool y_f16, int64_t rows, int64_t dim,
                    float eps, void* stream = nullptr);

// The Wan VAE's RMS_norm (its official name; F.normalize, not a mean of squares):
// y = x / max(||x||_2, 1e-12) * sqrt(c) * gamma, then SiLU when asked.
// x: [pixels, c] f32; gamma: [c] f32 (device); y: [pixels, c] bf16 (f32 with y_f32).
void l2_normalize_scale(const float* x, const float* gamma, void* y, bool y_f32, int64_t pixels, int64_t c, bool silu,
                        void* stream = nullptr);

// torch GroupNorm (HunyuanVideo's VAE) over all n pixels of x [n, c] fp16, folded into per-channel
// coefficients for the consumer (im2col_replicate's pre-activation): y = x * scale[ch] + shift[ch]
// with scale = w * rstd(group), shift = b - mean(group) * scale; statistics in double.
// sums: device scratch of 2 * c doubles; scale, shift: [c] f32 (device).
void group_norm_coeffs(const void* x, int64_t n, int64_t c, int64_t groups, const float* weight, const float* bias,
                       float eps, double* sums, float* scale, float* shift, void* stream = nullptr);
// The same from per-channel sums already in `sums` ([c] x (sum, sum of squares), double, over n
// pixels): what the VAE's conv kernels add up in their epilogue (Conv3x3x3Params::stats).
void group_norm_coeffs_from_sums(const double* sums, int64_t n, int64_t c, int64_t groups, const float* weight,
                                 const float* bias, float eps, float* scale, float* shift, void* stream = nullptr);

}  // namespace jenga::cuda
