#pragma once
// HunyuanVideo's LLM text encoder: the language model of llava-llama-3-8b-v1_1 run as
// transformers' LlamaModel (f32 on the CPU): token embedding, decoder layers of RMSNorm ->
// GQA attention with rotate-half RoPE (causal, padded keys masked) -> RMSNorm -> SiLU-gated MLP.
// The official code takes hidden_states[-3] (the output of layer N-2, no final norm) and only
// those layers run here. RoPE's inv_freq is rounded to fp16 as the official loader's .to(fp16)
// does to the buffer (REFERENCE-hunyuan section 11). Weights stream layer by layer from the
// mapped files, so the 16 GB fp16 model never needs a full f32 copy. lm_head is never read.
#include <cstdint>
#include <span>
#include <string>

#include "core/tensor.h"
#include "models/hunyuan/text_encoder_weights.h"

namespace jenga::hunyuan {

struct LlamaTextConfig {
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, ffn = 0;
  float rms_eps = 1e-5f;
  double rope_theta = 500000.0;
  bool fp16_inv_freq = true;  // the official fp16 load; false = diffusers' f32 buffer
};

// inv_freq[j] = 1 / theta^(2j / head_dim), j < head_dim/2, in f32 as torch computes it, rounded
// through fp16 when `fp16` (exposed for tests).
std::vector<float> llama_inv_freq(int64_t head_dim, double theta, bool fp16);

class LlamaTextEncoder {
 public:
  // A folder (official text_encoder/, diffusers text_encoder/) or a single safetensors file
  // (ComfyUI llava_llama3_fp16 / fp8_scaled). Config from config.json where there is one, the
  // rest from the tensor shapes (Llama-3 defaults for eps/theta/head_dim without a config).
  static LlamaTextEncoder open(const std::string& path);

  const LlamaTextConfig& config() const { return cfg_; }
  const EncoderWeights& weights() const { return w_; }
  LlamaTextConfig& mutable_config() { return cfg_; }

  // ids, mask: [L] (mask 1 = token, 0 = right padding). Returns hidden_states[-(skip + 1)] of
  // transformers' LlamaModel as [L, hidden] f32: the output of layer N - skip (skip > 0, no final
  // norm) or the final-normed last layer (skip = 0). Every row, padded ones included.
  Tensor encode(std::span<const int64_t> ids, std::span<const int64_t> mask, int64_t skip = 2) const;

  // The same from input embeddings and RoPE positions (LLaVA's merged image + text input, whose
  // padded rows sit at position 1): embeds [L, hidden] f32, positions, mask: [L].
  Tensor encode_embeddings(Tensor embeds, std::span<const int64_t> positions, std::span<const int64_t> mask,
                           int64_t skip = 2) const;
  // Rows of the token embedding table as f32: ids [L] -> [L, hidden].
  Tensor embed(std::span<const int64_t> ids) const;

 private:
  EncoderWeights w_;
  LlamaTextConfig cfg_;
};

// True when the checkpoint has Llama decoder layers under some prefix.
bool looks_like_llama_encoder(const Checkpoint& ckpt);

}  // namespace jenga::hunyuan
