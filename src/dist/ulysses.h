#pragma once
// Ulysses sequence parallelism (DeepSpeed-Ulysses) on host buffers: the token sequence is
// split into contiguous shards (token_split: uneven when tokens do not divide); around
// self-attention an all-to-all turns a sequence shard with all heads [n_local, heads, d] into
// a head shard over the whole sequence [n, heads / ranks, d], and back.
#include <cstdint>
#include <vector>

#include "dist/communicator.h"

namespace jenga::dist {

// CPU shards start at multiples of 48 tokens: an OpenBLAS GEMM row's result depends on its
// position in the kernel's row tile (12 rows on Zen/Haswell, 16 on AVX-512), so aligned
// shards give the one-process numbers bit for bit (with single-threaded BLAS).
constexpr int64_t kCpuShardAlign = 48;

class Ulysses {
 public:
  // The token split every rank of `comm` uses (the forward's and the TeaCache residual's).
  static Split token_split(int64_t tokens, int ranks) { return split_aligned(tokens, ranks, kCpuShardAlign); }
  // Throws jenga::Error when heads do not divide over the ranks.
  Ulysses(Communicator& comm, int64_t tokens, int64_t heads, int64_t head_dim);

  int64_t tokens() const { return split_.total; }
  int64_t local_tokens() const { return split_.count[static_cast<size_t>(comm_.rank())]; }
  int64_t offset() const { return split_.offset[static_cast<size_t>(comm_.rank())]; }
  int64_t local_heads() const { return heads_ / comm_.size(); }
  const Split& split() const { return split_; }

  // in: [local_tokens, heads, d] -> out: [tokens, local_heads, d] (this rank's heads).
  void seq_to_heads(const float* in, float* out);
  // in: [tokens, local_heads, d] -> out: [local_tokens, heads, d].
  void heads_to_seq(const float* in, float* out);
  // in: [local_tokens, width] -> out: [tokens, width] on every rank.
  void gather_tokens(const float* in, float* out, int64_t width);
  // Joint rows replicated on every rank (HunyuanVideo's text tokens, xDiT's joint tensors):
  // in: [rows, heads, d] -> out: [rows, local_heads, d], this rank's heads (no exchange).
  void take_heads(const float* in, float* out, int64_t rows) const;
  // in: [rows, local_heads, d], this rank's heads of replicated rows -> out: [rows, heads, d]
  // on every rank.
  void gather_heads(const float* in, float* out, int64_t rows);

 private:
  Communicator& comm_;
  Split split_;
  int64_t heads_, head_dim_;
  std::vector<size_t> shard_counts_, shard_displs_, local_counts_, local_displs_;
  std::vector<float> pack_;
};

}  // namespace jenga::dist
