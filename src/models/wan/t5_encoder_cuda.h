#pragma once
// The umT5 encoder on CUDA: bf16 weights (as published), f32 residual stream and norms, bf16
// GEMM operands with f32 accumulation (cuBLASLt; the o/fc2 GEMMs add into the f32 stream), per-layer relative position bias and key
// padding mask in a small cuBLAS + softmax attention (backend/cuda/rel_attention.h), gated-GELU
// FFN, final norm to f32. reserve() allocates for a maximum length once; forward() only
// enqueues work (no allocation, no host sync).
#include <cstdint>
#include <memory>
#include <span>

#include "models/wan/t5_encoder.h"

namespace jenga::wan {

class T5EncoderCuda {
 public:
  // Uploads the weights of an opened checkpoint (bf16 files go up as they are).
  static std::unique_ptr<T5EncoderCuda> from_encoder(const T5Encoder& encoder);
  // Random weights drawn on the GPU with the official init_weights scales: for benchmarks.
  static std::unique_ptr<T5EncoderCuda> random(const T5Config& config, uint64_t seed);
  ~T5EncoderCuda();

  const T5Config& config() const;

  // Allocates the activations and the bucket table for sequences of up to max_len tokens.
  void reserve(int64_t max_len);
  int64_t capacity() const;

  // ids: [len] i32 (in the vocabulary); key_mask: [len] u8 (0 = padded key); out: [out_rows,
  // dim] f32, the final-normed first out_rows rows (1 <= out_rows <= len). Device pointers, enqueued
  // on `stream`; len <= capacity().
  void forward(const int32_t* ids, const uint8_t* key_mask, int64_t len, float* out, int64_t out_rows,
               void* stream = nullptr);

  // The host contract of T5Encoder::encode: context [sum(mask), dim] f32 on the host. Reserves
  // (allocates) when the prompt is longer than capacity(); synchronises.
  Tensor encode(std::span<const int64_t> ids, std::span<const int64_t> mask);

  size_t weight_bytes() const;
  size_t activation_bytes() const;
  // FLOPs of one forward over len positions (a multiply-add counts 2).
  double flops(int64_t len) const;

 private:
  T5EncoderCuda();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jenga::wan
