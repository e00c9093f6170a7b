#pragma once
// Full attention with a relative-position bias per (head, query, key) and a key padding mask,
// as umT5 needs it (no 1/sqrt(d) scaling): scores = Q K^T through a cuBLAS strided-batched GEMM
// (f32 out), the biased masked softmax in f32 (softmax.h: softmax_rel_bias), then P V batched (bf16 P, f32
// accumulation). Any head dim; meant for short sequences (the text encoder's 512 tokens), where
// the [heads, len, len] score buffers are small. Plain C++ header.
#include <cstdint>
#include <memory>

namespace jenga::cuda {

struct RelAttentionParams {
  const void* q = nullptr;  // bf16 [len, heads, head_dim], rows `row_stride` elements apart
  const void* k = nullptr;  // same layout as q
  const void* v = nullptr;  // same layout as q
  int64_t row_stride = 0;
  void* out = nullptr;      // bf16 [len, heads, head_dim], rows `out_row_stride` apart
  int64_t out_row_stride = 0;
  int64_t len = 0, heads = 0, head_dim = 0;
  const float* pos = nullptr;        // f32 [buckets, heads]
  const int32_t* bucket = nullptr;   // i32, bucket of (key - query) at index (key - query + center)
  int64_t center = 0;                // >= len - 1
  const uint8_t* key_mask = nullptr; // u8 [len], 0 = padded key
  float* scores = nullptr;           // workspace f32 [heads, len, len]
  void* probs = nullptr;             // workspace bf16 [heads, len, len]
};

class RelAttention {
 public:
  RelAttention();  // creates the cuBLAS handle once (not per call)
  ~RelAttention();
  RelAttention(const RelAttention&) = delete;
  RelAttention& operator=(const RelAttention&) = delete;

  // Enqueues the attention on `stream`; no allocation, no sync.
  void forward(const RelAttentionParams& p, void* stream = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jenga::cuda
