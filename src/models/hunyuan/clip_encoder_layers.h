#pragma once
// The CLIP transformer encoder layers (pre-LayerNorm self-attention + MLP), shared by CLIP-L's
// text tower (HunyuanVideo text_states_2) and LLaVA's vision tower (HunyuanVideo-I2V): the same
// layer under "encoder.layers.N.", f32 on the CPU.
#include <cstdint>

#include "models/hunyuan/text_encoder_weights.h"

namespace jenga::hunyuan {

struct ClipLayerShape {
  int64_t tokens = 0, dim = 0, heads = 0, ffn = 0;  // L, D, H, F
  float ln_eps = 1e-5f;
  bool quick_gelu = true;  // hidden_act "quick_gelu", else exact (erf) GELU
};

// x: [L, D] f32, run through layers [0, layers) in place.
// bias: optional additive attention bias [L, L] (the text tower's causal mask); key_mask:
// optional [L] key validity (padding). Both null for the vision tower.
void run_clip_encoder_layers(const EncoderWeights& w, const ClipLayerShape& s, int64_t layers, float* x,
                             const float* bias, const uint8_t* key_mask);

}  // namespace jenga::hunyuan
