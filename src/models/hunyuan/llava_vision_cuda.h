#pragma once
// LLaVA's image side (HunyuanVideo-I2V's text encoder) on CUDA, the CPU LlavaVisionEncoder's
// contract: the patch conv as one GEMM over patch rows gathered on the GPU (3 x 14 x 14 = 588
// columns zero-padded to whole 16-byte rows), class + position embeddings, the pre-LayerNorm, the
// CLIP layers up to hidden_states[feature_layer] without the causal mask (ClipEncoderLayersCuda),
// the CLS row dropped, and the 2-layer GELU projector. Matrices fp16 on the GPU, the residual
// stream f32; by default fp16 GEMM operands with f32 accumulation (transformers runs the tower
// in fp16), TextEncoderPrecision::F32 the exact reference (also taken when a width or head dim
// is not a multiple of 8).
#include <memory>

#include "core/tensor.h"
#include "models/hunyuan/llava_vision.h"
#include "models/hunyuan/text_encoder_cuda_weights.h"

namespace jenga::hunyuan {

class LlavaVisionEncoderCuda {
 public:
  // Reads the weights from `encoder` once; `encoder` must outlive this object (encode checks the
  // pixel shape through it).
  static std::unique_ptr<LlavaVisionEncoderCuda> upload(const LlavaVisionEncoder& encoder,
                                                        TextEncoderPrecision precision = TextEncoderPrecision::F16);
  ~LlavaVisionEncoderCuda();

  // LlavaVisionEncoder::encode on the GPU: pixel_values f32 [3, S, S] on the host -> features and
  // projected rows on the host (synchronises).
  LlavaImageFeatures encode(const Tensor& pixel_values) const;
  bool f16() const;
  size_t weight_bytes() const;

 private:
  LlavaVisionEncoderCuda();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jenga::hunyuan
