#pragma once
// CLIP-L's text transformer (HunyuanVideo's second text encoder) on CUDA, the CPU ClipTextEncoder's
// contract: matrices fp16 on the GPU (q|k|v stacked), f32 biases and LayerNorms, the residual
// stream f32; by default fp16 GEMM operands with f32 accumulation (transformers runs it in fp16),
// TextEncoderPrecision::F32 the exact reference. The layers are clip_encoder_layers_cuda's
// (shared with LLaVA's vision tower), causal with padded keys masked; the pooled row is picked on
// the host as the CPU encoder does.
#include <cstdint>
#include <memory>
#include <span>

#include "models/hunyuan/clip_text_encoder.h"
#include "models/hunyuan/text_encoder_cuda_weights.h"

namespace jenga::hunyuan {

class ClipTextEncoderCuda {
 public:
  // `encoder` must outlive this object (token embeddings are gathered from its mapped file).
  static std::unique_ptr<ClipTextEncoderCuda> upload(const ClipTextEncoder& encoder,
                                                     TextEncoderPrecision precision = TextEncoderPrecision::F16);
  ~ClipTextEncoderCuda();

  // ClipTextEncoder::encode on the GPU (activations allocated at upload for `positions` tokens;
  // synchronises).
  ClipTextOutput encode(std::span<const int64_t> ids, std::span<const int64_t> mask) const;
  size_t weight_bytes() const;

 private:
  ClipTextEncoderCuda();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jenga::hunyuan
