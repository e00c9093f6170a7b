#pragma once
// CLIP's pre-LN encoder layers on CUDA (run_clip_encoder_layers' contract, clip_encoder_layers.h):
// CLIP-L's text tower (clip_text_encoder_cuda) runs them causally over padded prompts, LLaVA's
// vision tower (llava_vision_cuda, HunyuanVideo-I2V) bidirectionally over its patch rows. Matrices
// fp16 on the GPU (q|k|v stacked), f32 biases and LayerNorms, the residual stream f32; the GEMMs
// and attention in the precision of the EncoderLinearCuda given to run() (fp16 operands with f32
// accumulation, or the exact f32 reference).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "models/hunyuan/clip_encoder_layers.h"
#include "models/hunyuan/text_encoder_cuda_weights.h"

namespace jenga::hunyuan {

class ClipEncoderLayersCuda {
 public:
  // Uploads layers [0, layers) under "encoder.layers.N." of w; activations for up to s.tokens
  // rows in fp16 (f16) or f32 (the precision run() will be given).
  ClipEncoderLayersCuda(const EncoderWeights& w, const ClipLayerShape& s, int64_t layers, bool f16);

  // x: [L, D] f32 on the device (L <= s.tokens), run through the layers in place. key_mask: [L] u8
  // on the device (0 = padding key) or null (every key); causal: keys j <= i only.
  // Enqueues on the default stream; no allocation, no host sync.
  void run(EncoderLinearCuda& lin, float* x, int64_t L, const uint8_t* key_mask, bool causal);

  size_t weight_bytes() const;
  // The most elements of one of its matrices (EncoderLinearCuda's f32 scratch).
  int64_t max_weight() const { return std::max(3 * s_.dim * s_.dim, s_.ffn * s_.dim); }

 private:
  struct Layer {
    Tensor qkv, o, fc1, fc2;            // fp16 [out, in]; q|k|v stacked
    Tensor qkv_b, o_b, fc1_b, fc2_b;    // f32
    Tensor ln1_w, ln1_b, ln2_w, ln2_b;  // f32 [dim]
  };
  ClipLayerShape s_;
  bool f16_ = true;
  std::vector<Layer> layers_;
  // LayerNorm output h, q|k|v (f32 GEMM output and its fp16 copy), attention output o, fc1's f32
  // output and its activation, scores / probabilities, an all-ones key mask.
  Tensor h_, qkv32_, qkv_, o_, fc_, act_, s_buf_, p_, ones_;
};

}  // namespace jenga::hunyuan
