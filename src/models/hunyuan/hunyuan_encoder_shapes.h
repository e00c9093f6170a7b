#pragma once
// The tensors and config.json of HunyuanVideo's two text encoders at any size: the llava-llama-3-8b
// language model (LlamaForCausalLM names) and CLIP-L's text tower (CLIPTextModel names), published
// shapes by default, or the tiny ones make-tiny writes. Shared by the tiny and the full-size
// random folders (hunyuan_tiny_folder.h, hunyuan_random_folder.h).
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "models/random_checkpoint.h"

namespace jenga::hunyuan {

// REFERENCE-hunyuan section 11: hidden 4096, 32 layers, 32 heads / 8 KV heads of 128, FFN 14336,
// vocab 128320 (embedding rows), an untied LM head the encoder never uses.
struct LlmShape {
  int64_t hidden = 4096, layers = 32, heads = 32, kv_heads = 8, head_dim = 128, ffn = 14336, vocab = 128320;
  int64_t max_positions = 8192;
  bool lm_head = true;
  static LlmShape tiny(int64_t hidden, int64_t vocab);  // 4 layers, 3 heads / 1 KV head, FFN 2 x hidden
  double parameter_count() const;
};

// openai/clip-vit-large-patch14's text tower: 12 layers, width 768, 12 heads, FFN 3072, vocab
// 49408, 77 positions.
struct ClipTextShape {
  int64_t hidden = 768, layers = 12, heads = 12, ffn = 3072, vocab = 49408, positions = 77;
  static ClipTextShape tiny(int64_t hidden, int64_t vocab);  // 2 layers, 2 heads, FFN 2 x hidden
  double parameter_count() const;
};

// Appends the LLM's tensors under `prefix` ("model." for LlamaForCausalLM, LLaVA's
// "language_model.model."; the LM head goes beside the prefix's "model.") and returns its config
// (a LLaVA folder's text_config).
nlohmann::json llm_tensors(TensorShapes& t, const std::string& prefix, const LlmShape& s);

// One CLIP encoder layer's tensors under `p` (".../encoder.layers.N."): the text and vision towers
// name them alike.
void clip_layer_tensors(TensorShapes& t, const std::string& p, int64_t hidden, int64_t ffn);

// Appends the CLIP text tower's tensors ("text_model.*") and returns its config.json.
nlohmann::json clip_text_tensors(TensorShapes& t, const ClipTextShape& s);

// The init both encoders' random weights take: norm scales 1 + 0.1 N(0, 1), embeddings N(0, 1),
// matrices 1/sqrt(fan_in), so hidden states stay O(1) through every layer.
std::optional<RandomInit> encoder_special_init(const std::string& name);

}  // namespace jenga::hunyuan
