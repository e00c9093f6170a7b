#pragma once
// Reference attention on the CPU (f32): softmax(scale * q k^T + bias) v, dense or restricted
// to the key blocks a BlockSparseLayout keeps. The truth the CUDA kernels are tested against.
#include <cstdint>

#include "backend/block_sparse.h"

namespace jenga::cpu {

// Tensors are addressed by strides (in elements) so [B, L, H, D] and [B, H, L, D] both work.
struct AttentionArgs {
  const float* q = nullptr;  // q[b, h, i, :] at b*q_batch_stride + h*q_head_stride + i*q_row_stride
  const float* k = nullptr;
  const float* v = nullptr;
  float* out = nullptr;      // same addressing as q, with the out_* strides
  int64_t batch = 1, heads = 1, q_len = 0, k_len = 0, head_dim = 0;
  int64_t q_batch_stride = 0, q_head_stride = 0, q_row_stride = 0;
  int64_t k_batch_stride = 0, k_head_stride = 0, k_row_stride = 0;  // also used for v
  int64_t v_batch_stride = 0, v_head_stride = 0, v_row_stride = 0;
  int64_t out_batch_stride = 0, out_head_stride = 0, out_row_stride = 0;
  float scale = 1.0f;
  // Optional: only the layout's kept key blocks are attended (nullptr = dense).
  const BlockSparseLayout* layout = nullptr;
  // Optional additive logit bias per (head, key block), natural-log units, [heads, k_blocks]
  // (the Jenga text amplifier: official text_amp in log2 units = bias / ln 2).
  const float* key_block_bias = nullptr;

  // Fills the strides for contiguous [B, L, H, D] tensors (the DiT's natural layout).
  void set_blhd_strides();
  // Fills the strides for contiguous [B, H, L, D] tensors.
  void set_bhld_strides();
};

// Rows whose kept set is empty produce zeros.
void attention(const AttentionArgs& a);

}  // namespace jenga::cpu
