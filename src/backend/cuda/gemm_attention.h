#pragma once
// Causal self-attention of one short sequence (the text encoders: a few hundred tokens; without
// the causal limit, CLIP's vision tower) through cuBLASLt: S = Q K^T for every head in
// strided-batched GEMMs, one causal + key-padding softmax kernel over all heads, O = P V
// likewise. Grouped-query heads (query head h reads kv head h / (heads / kv_heads)) keep q/k/v
// where one fused QKV GEMM wrote them: one batched call per query head within a group, batched
// over the groups. fp16 operands with f32 scores and
// accumulation (the encoders' fast path), or f32 throughout (their reference mode).
// Plain C++ header: device pointers as void*, the stream as void*.
#include <cstdint>

#include "backend/cuda/matmul.h"

namespace jenga::cuda {

struct GemmAttentionArgs {
  // Row-major [len, ld] rows; head h's head_dim values start at column h * head_dim.
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  int64_t q_ld = 0, k_ld = 0, v_ld = 0;
  void* out = nullptr;  // [len, out_ld], head h at column h * head_dim
  int64_t out_ld = 0;
  int64_t len = 0, heads = 0, kv_heads = 0, head_dim = 0;
  float scale = 0.0f;                  // softmax scale (head_dim^-1/2)
  const uint8_t* key_mask = nullptr;   // [len] u8 on the device: 0 = padding key
  bool f16 = true;                     // q/k/v/out fp16, else f32
  bool causal = true;                  // keys j <= i (the text encoders), else all (the vision tower)
  // Scratch of gemm_attention_scratch(heads, len) elements each: scores f32; probs fp16 (f16 only;
  // f32 reuses scores). Rows are padded to a multiple of 8 keys so every row starts 16-byte aligned
  // (what cuBLASLt's tensor-core kernels want).
  float* scores = nullptr;
  void* probs = nullptr;
};

inline int64_t gemm_attention_row(int64_t len) { return (len + 7) / 8 * 8; }
inline int64_t gemm_attention_scratch(int64_t heads, int64_t len) { return heads * len * gemm_attention_row(len); }

// out = softmax_causal_masked(scale q k^T) v per head (softmax.h's rule for rows with no key), or
// softmax_key_masked's without the causal limit.
// fp16 needs head_dim and the row strides in multiples of 8 elements (16-byte slices); else it fails in one line.
// Enqueues on stream; no allocation, no host sync.
void gemm_attention(MatmulRunner& gemm, const GemmAttentionArgs& a, void* stream = nullptr);

}  // namespace jenga::cuda
