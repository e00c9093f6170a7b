#pragma once
// The HunyuanVideo LLM text encoder on CUDA (tested on an H100 against the CPU encoder and, at
// full size, against transformers: docs/BENCHMARKS.md).
// Weights stay fp16 on the GPU (as published: ~15 GB for the 30 layers HunyuanVideo needs), each
// one widened to f32 just before its GEMM; activations, GEMMs (cuBLASLt on f32 operands),
// RMSNorm, RoPE (fp16-rounded inv_freq), causal masked softmax and SiLU run in f32, so the
// result should sit closer to the f32 reference than the official fp16 forward.
#include <cstdint>
#include <memory>
#include <span>

#include "core/tensor.h"
#include "models/hunyuan/llama_text_encoder.h"

namespace jenga::hunyuan {

class LlamaTextEncoderCuda {
 public:
  // Uploads the first layers - skip layers (what hidden_states[-(skip + 1)] needs; skip = 0 also
  // uploads the final norm). `encoder` must outlive this object (token embeddings are gathered
  // from its mapped file on the host).
  static std::unique_ptr<LlamaTextEncoderCuda> upload(const LlamaTextEncoder& encoder, int64_t skip = 2);
  ~LlamaTextEncoderCuda();

  // The host contract of LlamaTextEncoder::encode with the uploaded skip: [L, hidden] f32 on the
  // host. Allocates its activations per call (the text encoder runs once per prompt); synchronises.
  Tensor encode(std::span<const int64_t> ids, std::span<const int64_t> mask) const;
  // LlamaTextEncoder::encode_embeddings's contract with the uploaded skip: input embeddings
  // [L, hidden] f32 on the host, each row's RoPE position and key mask (the I2V text encoder's
  // merged LLaVA input: image rows spliced in, masked rows at position 1).
  Tensor encode_embeddings(const Tensor& embeds, std::span<const int64_t> positions,
                           std::span<const int64_t> mask) const;
  size_t weight_bytes() const;

 private:
  LlamaTextEncoderCuda();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jenga::hunyuan
