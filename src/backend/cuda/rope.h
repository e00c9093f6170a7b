#pragma once
// Rotary position embeddings: interleaved pairs on bf16 rows (Wan), fused with the q/k RMSNorm
// over a whole row (Wan) or per head (HunyuanVideo), and Llama's rotate-half on f32 rows. Plain
// C++ header: bf16 / fp16 tensors are void* (device), f32 tensors float*, streams void*.
#include <cstdint>

namespace jenga::cuda {

// In-place rotary embedding on interleaved pairs (x[2j], x[2j+1]) of each head.
// x: [rows, heads, head_dim] bf16 (row stride given in elements); cos_sin: [rows, head_dim/2]
// float2-packed (cos, sin) already in the token order of x.
void rope_interleaved(void* x, const float* cos_sin, int64_t rows, int64_t heads, int64_t head_dim,
                      int64_t row_stride, void* stream = nullptr);

// Self-attention q/k preparation in one pass over the fused QKV rows: q = rope(rms_norm(q) * wq),
// k = rope(rms_norm(k) * wk), in place, with the bf16 rounding between norm and RoPE that the
// separate rms_norm + rope_interleaved calls (and the official model) have. q at qkv + r*row_stride,
// k right after it (dim = heads * head_dim elements later).
void qk_norm_rope(void* qkv, int64_t row_stride, const float* wq, const float* wk, const float* cos_sin,
                  int64_t rows, int64_t heads, int64_t head_dim, float eps, void* stream = nullptr);

// Per-head q/k preparation (HunyuanVideo: RMSNorm over each head's head_dim channels, not over
// the whole row as qk_norm_rope): q = rope(round_bf16(rms_norm_head(q) * wq)), likewise k, in
// place over the fused QKV rows (q at qkv + r*row_stride, k dim = heads*head_dim later).
// wq, wk: [head_dim] f32; cos_sin: [rows, head_dim/2] float2 (cos, sin) in x's token order, or
// null = no rotation (text tokens). Any even head_dim (8 x a power of 2 up to 256 vectorised, others
// through a scalar kernel).
void head_qk_norm_rope(void* qkv, int64_t row_stride, const float* wq, const float* wk, const float* cos_sin,
                       int64_t rows, int64_t heads, int64_t head_dim, float eps, void* stream = nullptr);

// Llama's rotate-half RoPE (the HunyuanVideo LLM encoder) over fused q|k|v rows: qkv [rows,
// q_heads + 2 kv_heads, hd] f32 (one stacked GEMM's output); in each q and k head, pairs
// (j, j + hd/2) rotate by the angle whose cos/sin are cos_t/sin_t[r, j]; v heads pass through.
// out: the same layout in fp16 (out_f16: the attention GEMMs' operands) or f32 (may be qkv).
// cos_t, sin_t: [rows, hd/2] f32.
void rope_rotate_half_qkv(const float* qkv, void* out, bool out_f16, const float* cos_t, const float* sin_t,
                          int64_t rows, int64_t q_heads, int64_t kv_heads, int64_t hd, void* stream = nullptr);

}  // namespace jenga::cuda
