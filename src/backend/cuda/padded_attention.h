#pragma once
// Attention for head dims the kernel lacks (test models: make-tiny's 32, any even head dim up to
// 128): each call copies q, k and v head by head into zero-padded 64- or 128-wide slots (the zeros
// leave every dot product and every output column as it was), runs the kernel at that head dim with the caller's
// softmax scale, and copies the first head_dim columns of each output head back. Scratch is
// sized once (reserve, outside the step loop); forward() only enqueues copies and the kernel.
// Dense and block-sparse layouts pass through unchanged. Plain C++ header.
#include <cstdint>

#include "backend/cuda/attention.h"
#include "core/tensor.h"

namespace jenga::cuda {

// The head dim the attention kernel runs for `head_dim`: itself (64, 128); padded, 64 for any
// other even head dim up to 64 and 128 up to 128; 0 otherwise (odd, or over 128).
int64_t attention_head_dim(int64_t head_dim);

class PaddedAttention {
 public:
  // Scratch for calls of up to max_q query rows and max_k key rows of `heads` heads of
  // `head_dim` (nothing is allocated for 64 and 128). Allocates.
  void reserve(int64_t max_q, int64_t max_k, int64_t heads, int64_t head_dim);
  bool active() const { return padded_ != 0; }
  // attention_forward(p) for p.head_dim the reserved one, p.batch 1, within the reserved rows and
  // heads; any other p goes to attention_forward as it is.
  void forward(const AttentionParams& p, void* stream = nullptr);

 private:
  int64_t head_dim_ = 0, padded_ = 0, heads_ = 0, max_q_ = 0, max_k_ = 0;
  Tensor q_, k_, v_, out_;  // bf16 [rows, heads, padded_]
};

}  // namespace jenga::cuda
