#include "models/hunyuan/hunyuan_encoder_shapes.h"

namespace jenga::hunyuan {
using nlohmann::json;

LlmShape LlmShape::tiny(int64_t hidden, int64_t vocab) {
  LlmShape s;
  s.hidden = hidden, s.layers = 4, s.heads = 3, s.kv_heads = 1, s.head_dim = hidden / 3, s.ffn = 2 * hidden;
  s.vocab = vocab, s.max_positions = 1024, s.lm_head = false;
  return s;
}

double LlmShape::parameter_count() const {
  const double h = static_cast<double>(hidden), q = static_cast<double>(heads * head_dim),
               kv = static_cast<double>(kv_heads * head_dim), f = static_cast<double>(ffn);
  const double layer = 2 * h + h * q + 2 * h * kv + q * h + 3 * h * f;
  return static_cast<double>(vocab) * h * (lm_head ? 2 : 1) + h + static_cast<double>(layers) * layer;
}

ClipTextShape ClipTextShape::tiny(int64_t hidden, int64_t vocab) {
  ClipTextShape s;
  s.hidden = hidden, s.layers = 2, s.heads = 2, s.ffn = 2 * hidden, s.vocab = vocab;
  return s;
}

double ClipTextShape::parameter_count() const {
  const double h = static_cast<double>(hidden), f = static_cast<double>(ffn);
  const double layer = 4 * h + 4 * (h * h + h) + (f * h + f) + (h * f + h);
  return static_cast<double>(vocab + positions) * h + 2 * h + static_cast<double>(layers) * layer;
}

json llm_tensors(TensorShapes& t, const std::string& prefix, const LlmShape& s) {
  const int64_t h = s.hidden, hd = s.head_dim;
  t.push_back({prefix + "embed_tokens.weight", {s.vocab, h}});
  t.push_back({prefix + "norm.weight", {h}});
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string p = prefix + "layers." + std::to_string(i) + ".";
    t.push_back({p + "input_layernorm.weight", {h}});
    t.push_back({p + "post_attention_layernorm.weight", {h}});
    t.push_back({p + "self_attn.q_proj.weight", {s.heads * hd, h}});
    t.push_back({p + "self_attn.k_proj.weight", {s.kv_heads * hd, h}});
    t.push_back({p + "self_attn.v_proj.weight", {s.kv_heads * hd, h}});
    t.push_back({p + "self_attn.o_proj.weight", {h, s.heads * hd}});
    t.push_back({p + "mlp.gate_proj.weight", {s.ffn, h}});
    t.push_back({p + "mlp.up_proj.weight", {s.ffn, h}});
    t.push_back({p + "mlp.down_proj.weight", {h, s.ffn}});
  }
  if (s.lm_head) {
    const size_t model = prefix.rfind("model.");
    t.push_back({(model == std::string::npos ? prefix : prefix.substr(0, model)) + "lm_head.weight", {s.vocab, h}});
  }
  return {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", h},
          {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads}, {"num_key_value_heads", s.kv_heads},
          {"head_dim", hd}, {"intermediate_size", s.ffn}, {"hidden_act", "silu"}, {"rms_norm_eps", 1e-5},
          {"rope_theta", 500000.0}, {"rope_scaling", nullptr}, {"max_position_embeddings", s.max_positions},
          {"vocab_size", s.vocab}, {"attention_bias", false}, {"mlp_bias", false},
          {"tie_word_embeddings", false}, {"torch_dtype", "float16"}};
}

void clip_layer_tensors(TensorShapes& t, const std::string& p, int64_t h, int64_t ffn) {
  for (const char* n : {"layer_norm1", "layer_norm2"}) t.push_back({p + n + ".weight", {h}}), t.push_back({p + n + ".bias", {h}});
  for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"})
    t.push_back({p + "self_attn." + n + ".weight", {h, h}}), t.push_back({p + "self_attn." + n + ".bias", {h}});
  t.push_back({p + "mlp.fc1.weight", {ffn, h}}), t.push_back({p + "mlp.fc1.bias", {ffn}});
  t.push_back({p + "mlp.fc2.weight", {h, ffn}}), t.push_back({p + "mlp.fc2.bias", {h}});
}

json clip_text_tensors(TensorShapes& t, const ClipTextShape& s) {
  const int64_t h = s.hidden, ffn = s.ffn;
  const std::string p0 = "text_model.";
  t.push_back({p0 + "embeddings.token_embedding.weight", {s.vocab, h}});
  t.push_back({p0 + "embeddings.position_embedding.weight", {s.positions, h}});
  t.push_back({p0 + "final_layer_norm.weight", {h}});
  t.push_back({p0 + "final_layer_norm.bias", {h}});
  for (int64_t i = 0; i < s.layers; ++i) clip_layer_tensors(t, p0 + "encoder.layers." + std::to_string(i) + ".", h, ffn);
  return {{"architectures", {"CLIPTextModel"}}, {"model_type", "clip_text_model"}, {"hidden_size", h},
          {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads}, {"intermediate_size", ffn},
          {"hidden_act", "quick_gelu"}, {"layer_norm_eps", 1e-5}, {"max_position_embeddings", s.positions},
          {"vocab_size", s.vocab}, {"bos_token_id", s.vocab - 2}, {"eos_token_id", 2},
          {"pad_token_id", 1}, {"torch_dtype", "float16"}};
}

std::optional<RandomInit> encoder_special_init(const std::string& n) {
  if (n.find("norm") != std::string::npos && name_ends_with(n, ".weight")) return RandomInit{0.1f, 1.0f};
  if (n.find("embedding") != std::string::npos || n.find("embed_tokens") != std::string::npos)
    return RandomInit{1.0f, 0.0f};
  return std::nullopt;
}

}  // namespace jenga::hunyuan
