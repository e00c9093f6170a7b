#pragma once
// The HunyuanVideo LLM text encoder on CUDA (tested against the CPU encoder; at full size against
// transformers: bench/gpu_hunyuan_components.sh).
// Weights stay fp16 on the GPU as published (~13 GB for the 30 layers HunyuanVideo needs), q|k|v
// and gate|up stacked into one matrix each. The default precision is the official one on tensor
// cores: fp16 GEMM operands (RMSNorm outputs, RoPE'd q/k/v, attention probabilities, the SwiGLU
// product) with f32 accumulation; the residual stream, norms, RoPE, softmax and SiLU compute in
// f32 (transformers keeps the residual in fp16, so this sits no farther from f32 than it).
// Attention: batched GEMMs over the GQA heads + one causal key-masked softmax (gemm_attention).
// TextEncoderPrecision::F32 is the exact reference (weights widened per GEMM, f32 GEMMs).
#include <cstdint>
#include <memory>
#include <span>

#include "core/tensor.h"
#include "models/hunyuan/llama_text_encoder.h"
#include "models/hunyuan/text_encoder_cuda_weights.h"

namespace jenga::hunyuan {

class LlamaTextEncoderCuda {
 public:
  // Uploads the first layers - skip layers (what hidden_states[-(skip + 1)] needs; skip = 0 also
  // uploads the final norm). `encoder` must outlive this object (token embeddings are gathered
  // from its mapped file on the host).
  static std::unique_ptr<LlamaTextEncoderCuda> upload(const LlamaTextEncoder& encoder, int64_t skip = 2,
                                                      TextEncoderPrecision precision = TextEncoderPrecision::F16);
  ~LlamaTextEncoderCuda();

  // The host contract of LlamaTextEncoder::encode with the uploaded skip: [L, hidden] f32 on the
  // host. Activation buffers are kept for the longest prompt seen (allocated when a longer one
  // comes, never inside the layer loop); synchronises.
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
