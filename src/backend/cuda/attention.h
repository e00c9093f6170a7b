#pragma once
// Flash-attention forward on the GPU, dense or block-sparse (BlockSparseLayout as CSR on the
// device), bf16 in/out with f32 accumulation. Plain C++: no CUDA types, stream as void*.
#include <cstdint>

namespace jenga::cuda {

// Flat parameter block, passed by value to the kernel. Strides are in elements; the head dim is
// contiguous. q[b, h, i, :] lives at q + b*q_batch_stride + h*q_head_stride + i*q_row_stride,
// so [B, L, H, D] (the DiT's layout) and [B, H, L, D] both work.
struct AttentionParams {
  const uint16_t* q = nullptr;  // bf16
  const uint16_t* k = nullptr;  // bf16
  const uint16_t* v = nullptr;  // bf16
  uint16_t* out = nullptr;      // bf16, addressed like q with the out_* strides
  int64_t q_batch_stride = 0, q_head_stride = 0, q_row_stride = 0;
  int64_t k_batch_stride = 0, k_head_stride = 0, k_row_stride = 0;
  int64_t v_batch_stride = 0, v_head_stride = 0, v_row_stride = 0;
  int64_t out_batch_stride = 0, out_head_stride = 0, out_row_stride = 0;
  int batch = 1, heads = 1, q_len = 0, k_len = 0, head_dim = 128;
  float scale = 0.0f;  // softmax scale, > 0 (usually head_dim^-1/2)
  // Block-sparse layout (query and key blocks of 128), device pointers: offsets
  // [batch*heads*ceil(q_len/128) + 1], indices ascending per row. Both nullptr = dense.
  const int32_t* block_offsets = nullptr;
  const int32_t* block_indices = nullptr;
  // Optional additive logit bias per (head, key block) in natural-log units, [heads,
  // ceil(k_len/128)], device pointer (the text amplifier: official text_amp * ln 2).
  const float* key_block_bias = nullptr;
  // Key tile of the kernel: 0 = the default for the head dim, or 64 / 128 to force one
  // (benchmarking).
  int key_tile = 0;
  // Query rows per warp: 0 = default, 16, or 32 (FlashAttention-2 layout, key tile 64 only).
  int warp_rows = 0;
  // Kernel path: 0 = default (the warp-specialised kernel on sm_90 with default tiles, else
  // mma.sync), 1 = mma.sync (sm_80+), 2 = wgmma (sm_90a, head dim 128; docs/BENCHMARKS.md),
  // 3 .. 9 = warp-specialised TMA + wgmma kernel (sm_90a, head dim 64 or 128): 3 = 2 K/V stages
  // with ping-pong of the two consumer warpgroups, 4 = 2 stages, 5 = 3 stages + ping-pong,
  // 6 = 3 stages, 7 = persistent (one CTA per SM), 2 stages + ping-pong, 8 = persistent, 2 stages,
  // 9 = 7 with Q in registers; 10 .. 15 = fewer softmax instructions (ws_kernel.cuh OPT bits):
  // 10 = 9 + one-instruction exp2, 11 = 10 + lazy rescale, 12 = 11 + one K/V release per warp,
  // 13 = 7 with all three, 14 = 12 without ping-pong, 15 = 5 with all three, 16 = 13 with
  // S = Q K^T in FP8 (e4m3) from q8 / k8 below (head dim 128; V and P V stay bf16).
  // Default on sm_90: 12 for head dim 128, 13 for 64.
  int path = 0;
  static constexpr int kMaxPath = 16;
  static constexpr int kFp8Path = 16;

  // Path 16 only: Q and K as e4m3 bytes, [batch, heads, len, head_dim] contiguous, each
  // 128-token block scaled by its own factor (value = byte * scale), scales [batch, heads,
  // ceil(len / 128)] f32; quantize_qk_fp8 fills them from q and k.
  const uint8_t* q8 = nullptr;
  const uint8_t* k8 = nullptr;
  const float* q8_scale = nullptr;
  const float* k8_scale = nullptr;

  void set_blhd_strides();  // contiguous [B, L, H, D] q/k/v/out
  void set_bhld_strides();  // contiguous [B, H, L, D] q/k/v/out
};

// out = softmax(scale * q k^T + bias) v over the kept key blocks; rows whose kept list is empty
// get zeros; ragged last blocks are masked. Enqueues on `stream` (nullptr = default stream):
// no allocation, no host sync, capturable in a CUDA graph. Bad sizes, strides or alignment
// throw jenga::UsageError before anything is launched.
void attention_forward(const AttentionParams& p, void* stream = nullptr);

// 4 * D * (rows x kept key tokens), summed: the FLOPs actually computed for a layout given as
// host CSR (nullptr = dense), the figure `jenga bench attention` reports.
// Fills p.q8 / p.k8 and their per-block scales (amax / 448) from p.q / p.k (bf16, p's strides):
// the inputs of path 16. Buffers: q8 [B*H*q_len*D] bytes, q_scale [B*H*ceil(q_len/128)] f32,
// likewise for k. Head dim 128.
void quantize_qk_fp8(const AttentionParams& p, uint8_t* q8, float* q_scale, uint8_t* k8, float* k_scale,
                     void* stream = nullptr);

double attention_flops(int batch, int heads, int q_len, int k_len, int head_dim,
                       const int32_t* host_offsets, const int32_t* host_indices);

}  // namespace jenga::cuda
