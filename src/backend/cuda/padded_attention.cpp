#include "backend/cuda/padded_attention.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_upload.h"
#include "backend/cuda/elementwise.h"
#include "core/error.h"

namespace jenga::cuda {

int64_t attention_head_dim(int64_t head_dim) {
  if (head_dim <= 0 || head_dim % 2 != 0 || head_dim > 128) return 0;  // RoPE pairs; the kernel's widest
  return head_dim <= 64 ? 64 : 128;
}

void PaddedAttention::reserve(int64_t max_q, int64_t max_k, int64_t heads, int64_t head_dim) {
  const int64_t padded = attention_head_dim(head_dim);
  if (padded == 0) usage_fail("attention: head dim {} is not supported (an even head dim up to 128)", head_dim);
  q_ = k_ = v_ = out_ = Tensor();
  head_dim_ = head_dim, heads_ = heads, max_q_ = max_q, max_k_ = max_k;
  padded_ = padded == head_dim ? 0 : padded;
  if (!padded_) return;
  const int64_t w = heads * padded_;
  q_ = device_empty(DType::BF16, std::max<int64_t>(max_q, 1) * w);
  k_ = device_empty(DType::BF16, std::max<int64_t>(max_k, 1) * w);
  v_ = device_empty(DType::BF16, std::max<int64_t>(max_k, 1) * w);
  out_ = device_empty(DType::BF16, std::max<int64_t>(max_q, 1) * w);
  // Only the first head_dim columns of each slot are ever written: the rest stay zero.
  for (Tensor* t : {&q_, &k_, &v_}) JENGA_CUDA_CHECK(cudaMemset(t->data(), 0, t->nbytes()));
  JENGA_CUDA_CHECK(cudaDeviceSynchronize());  // zeroed before any stream's first copy (once, in prepare)
}

void PaddedAttention::forward(const AttentionParams& p, void* stream) {
  if (!padded_ || p.head_dim != head_dim_) return attention_forward(p, stream);
  if (p.batch != 1 || p.heads > heads_ || p.q_len > max_q_ || p.k_len > max_k_)
    fail("padded attention: {} x {} heads, {} query and {} key rows exceed the reserved 1 x {}, {} and {}", p.batch,
         p.heads, p.q_len, p.k_len, heads_, max_q_, max_k_);
  if (p.q_len == 0) return;
  const int64_t w = p.heads * padded_, hd = head_dim_;
  copy_column_groups_bf16(p.q, p.q_row_stride, p.q_head_stride, q_.data(), w, padded_, p.q_len, p.heads, hd, stream);
  copy_column_groups_bf16(p.k, p.k_row_stride, p.k_head_stride, k_.data(), w, padded_, p.k_len, p.heads, hd, stream);
  copy_column_groups_bf16(p.v, p.v_row_stride, p.v_head_stride, v_.data(), w, padded_, p.k_len, p.heads, hd, stream);
  AttentionParams a = p;  // layout, bias, scale and path as given
  a.head_dim = static_cast<int>(padded_);
  a.q = static_cast<const uint16_t*>(q_.data());
  a.k = static_cast<const uint16_t*>(k_.data());
  a.v = static_cast<const uint16_t*>(v_.data());
  a.out = static_cast<uint16_t*>(out_.data());
  a.q_row_stride = a.k_row_stride = a.v_row_stride = a.out_row_stride = w;
  a.q_head_stride = a.k_head_stride = a.v_head_stride = a.out_head_stride = padded_;
  a.q_batch_stride = a.out_batch_stride = p.q_len * w;
  a.k_batch_stride = a.v_batch_stride = p.k_len * w;
  attention_forward(a, stream);
  copy_column_groups_bf16(out_.data(), w, padded_, p.out, p.out_row_stride, p.out_head_stride, p.q_len, p.heads, hd,
                          stream);
}

}  // namespace jenga::cuda
