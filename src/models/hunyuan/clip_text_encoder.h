#pragma once
// HunyuanVideo's second text encoder: CLIP-L's text transformer as transformers' CLIPTextModel
// runs it (f32 on the CPU): token + position embeddings, pre-LN layers (causal attention with
// padded keys masked, quick-GELU MLP), final LayerNorm; the pooled vector is the final state at
// the EOS position (argmax of the ids for the published config's legacy eos_token_id 2, else
// the first eos_token_id).
#include <cstdint>
#include <span>
#include <string>

#include "core/tensor.h"
#include "models/hunyuan/text_encoder_weights.h"

namespace jenga::hunyuan {

struct ClipTextConfig {
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, ffn = 0, positions = 0;
  float ln_eps = 1e-5f;
  bool quick_gelu = true;    // hidden_act "quick_gelu" (else exact GELU)
  int64_t eos_token_id = 2;  // 2 = pool at argmax(ids) (transformers' legacy rule)
};

struct ClipTextOutput {
  Tensor last_hidden_state;  // [L, hidden] f32, after the final LayerNorm
  Tensor pooled;             // [hidden] f32
};

class ClipTextEncoder {
 public:
  // A folder (official text_encoder_2/, diffusers text_encoder_2/) or a single file (ComfyUI
  // clip_l.safetensors); "text_model." or any other prefix. Config from config.json (its
  // text_config for a full CLIPModel), the rest from shapes; heads default to hidden/64.
  static ClipTextEncoder open(const std::string& path);
  const ClipTextConfig& config() const { return cfg_; }
  const EncoderWeights& weights() const { return w_; }

  // ids, mask: [L], L <= positions.
  ClipTextOutput encode(std::span<const int64_t> ids, std::span<const int64_t> mask) const;

  // What encode() and the CUDA encoder share: the input checks (one-line errors), the token +
  // position embeddings of the ids ([L, hidden] f32 into x), and the pooled row's position.
  void check_input(std::span<const int64_t> ids, std::span<const int64_t> mask) const;
  void embed(std::span<const int64_t> ids, float* x) const;
  int64_t pooled_position(std::span<const int64_t> ids) const;

 private:
  EncoderWeights w_;
  ClipTextConfig cfg_;
};

bool looks_like_clip_text_encoder(const Checkpoint& ckpt);

}  // namespace jenga::hunyuan
