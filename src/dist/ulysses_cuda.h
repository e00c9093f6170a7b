#pragma once
// Ulysses sequence parallelism on device buffers (bf16, a device communicator such as NCCL,
// enqueued on a CUDA stream): the GPU twin of dist/ulysses.h. Around self-attention an
// all-to-all turns this rank's sequence shard with every head into a head shard over the
// whole sequence, and back; a model's CUDA forward calls it between its QKV projection and its
// attention kernel. No allocation, no host sync in the exchanges (graph-capturable); the
// constructor allocates the staging buffer. Plain C++ header: streams are void*.
//
// Token split: dist::split_even (contiguous, the first tokens % ranks ranks take one more).
// The CPU path aligns shards to 48 tokens (kCpuShardAlign) to match an OpenBLAS row tile; the
// GPU kernels have no such dependence we rely on, and changing the split would change the GPU
// results of existing multi-GPU runs, so the two splits stay different on purpose.
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "dist/communicator.h"

namespace jenga::dist {

class UlyssesDevice {
 public:
  static Split token_split(int64_t tokens, int ranks) { return split_even(tokens, ranks); }
  // Throws jenga::Error when `comm` holds host buffers or the heads do not divide over its ranks.
  // joint_rows: rows replicated on every rank that join the sequence in self-attention
  // (HunyuanVideo's text tokens, xDiT's joint tensors; 0 = none): sizes the staging buffer.
  UlyssesDevice(Communicator& comm, int64_t tokens, int64_t heads, int64_t head_dim, int64_t joint_rows = 0);

  int64_t tokens() const { return split_.total; }
  int64_t local_tokens() const { return split_.count[static_cast<size_t>(comm_.rank())]; }
  int64_t offset() const { return split_.offset[static_cast<size_t>(comm_.rank())]; }
  int64_t local_heads() const { return heads_ / comm_.size(); }
  const Split& split() const { return split_; }
  size_t stage_bytes() const { return stage_.nbytes(); }

  // qkv: this rank's rows of fused q/k/v, [local_tokens][row_stride] bf16 with q at column 0,
  // k at heads*head_dim and v at 2*heads*head_dim (each [heads][head_dim]) -> out:
  // [tokens][3][local_heads][head_dim] (every token, this rank's heads; q, k, v rows
  // 3 * local_heads * head_dim apart).
  void qkv_to_heads(const void* qkv, int64_t row_stride, void* out, void* stream);
  // in: [tokens][local_heads][head_dim] -> out: [local_tokens][heads][head_dim], rows
  // `out_row_stride` elements apart.
  void heads_to_seq(const void* in, void* out, int64_t out_row_stride, void* stream);
  // in: [local_tokens][width] bf16 -> out: [tokens][width] on every rank.
  void gather_tokens(const void* in, void* out, int64_t width);
  // Joint rows (replicated on every rank, no exchange): qkv [rows][row_stride] laid out as in
  // qkv_to_heads -> out: [rows][3][local_heads][head_dim], this rank's heads.
  void joint_qkv_to_heads(const void* qkv, int64_t row_stride, int64_t rows, void* out, void* stream);
  // in: [rows][local_heads][head_dim], this rank's heads of the joint rows (rows <= joint_rows)
  // -> out: [rows][heads][head_dim] on every rank, rows `out_row_stride` elements apart.
  void gather_joint_heads(const void* in, void* out, int64_t out_row_stride, int64_t rows, void* stream);

 private:
  Communicator& comm_;
  Split split_;
  int64_t heads_, head_dim_, joint_rows_;
  // bf16, peer-major: [ranks][local_tokens][3][local_heads][head_dim], or (when larger) the
  // gathered joint rows [ranks][joint_rows][local_heads][head_dim].
  Tensor stage_;
  // Element counts / displacements per peer of each exchange (sized once; the gather's are
  // rewritten per call without allocating).
  std::vector<size_t> qkv_sc_, qkv_sd_, qkv_rc_, qkv_rd_, att_sc_, att_sd_, att_rc_, att_rd_, gather_c_, gather_d_;
};

}  // namespace jenga::dist
