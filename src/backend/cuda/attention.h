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
  // Kernel: 0 = the fastest for the GPU and head dim (sm_90 built for sm_90a: the
  // warp-specialised TMA + wgmma kernel, head dim 64 or 128; elsewhere, or for strides a tensor
  // map cannot express: mma.sync), 1 = the mma.sync kernel (sm_80+) on any GPU, 2 = the mma.sync
  // kernel with 64-key tiles. The mma.sync kernel's 128-key tiles need 160 KB of shared memory
  // per block at head dim 128, which only A100 / H100-class GPUs grant; where the GPU grants
  // less (sm_86 / sm_89 / sm_120: RTX 30/40/50, A10, L4, L40S: 99 KB), paths 0 and 1 run the
  // 64-key tiles (96 KB) by themselves. The other kernels and variants measured in
  // docs/BENCHMARKS.md are experiments in the kernel lab (bench/kernels/attention/).
  int path = 0;
  static constexpr int kMaxPath = 2;

  // Read only by the kernel lab's FP8 version (16): Q and K as e4m3 bytes, [batch, heads, len,
  // head_dim] contiguous, each 128-token block scaled by its own factor (value = byte * scale),
  // scales [batch, heads, ceil(len / 128)] f32. The shared kernel template reads them under its
  // FP8 bit; production ignores them.
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
double attention_flops(int batch, int heads, int q_len, int k_len, int head_dim,
                       const int32_t* host_offsets, const int32_t* host_indices);

}  // namespace jenga::cuda
