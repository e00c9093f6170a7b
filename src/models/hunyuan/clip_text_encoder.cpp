#include "models/hunyuan/clip_text_encoder.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/ops_t5vae.h"
#include "core/error.h"
#include "models/hunyuan/clip_encoder_layers.h"
#include "models/hunyuan/llama_text_encoder.h"

namespace jenga::hunyuan {

namespace {
const char* const kAnchor = "embeddings.token_embedding.weight";
const char* const kAlso = "encoder.layers.0.self_attn.q_proj.weight";

int64_t json_int(const nlohmann::json& j, const char* key, int64_t dflt) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : dflt;
}
}  // namespace

bool looks_like_clip_text_encoder(const Checkpoint& c) { return EncoderWeights::find_prefix(c, kAnchor, kAlso).has_value(); }

ClipTextEncoder ClipTextEncoder::open(const std::string& path) {
  auto ckpt = open_encoder_checkpoint(path);
  auto w = EncoderWeights::find(ckpt, kAnchor, kAlso);
  if (!w) {
    const char* what = looks_like_llama_encoder(*ckpt) ? " (it looks like a Llama text encoder)" : "";
    fail("{} is not a CLIP text encoder{}: expected text_model.embeddings.token_embedding.weight (official "
         "text_encoder_2/, diffusers text_encoder_2/, ComfyUI clip_l.safetensors)", path, what);
  }
  ClipTextEncoder e;
  e.w_ = std::move(*w);
  ClipTextConfig& k = e.cfg_;
  const auto emb = e.w_.shape("embeddings.token_embedding.weight");
  const auto pos = e.w_.shape("embeddings.position_embedding.weight");
  const auto fc1 = e.w_.shape("encoder.layers.0.mlp.fc1.weight");
  if (emb.size() != 2 || pos.size() != 2 || fc1.size() != 2) fail("{}: embedding/fc1 weights are not matrices", path);
  k.vocab = emb[0], k.hidden = emb[1], k.positions = pos[0], k.ffn = fc1[0];
  while (e.w_.has("encoder.layers." + std::to_string(k.layers) + ".self_attn.q_proj.weight")) ++k.layers;
  const auto cfg = encoder_config_json(path);
  k.heads = json_int(cfg, "num_attention_heads", k.hidden / 64);
  if (!cfg.is_null()) {
    k.ln_eps = static_cast<float>(cfg.value("layer_norm_eps", 1e-5));
    if (!(k.ln_eps > 0 && k.ln_eps < 1))
      fail("{}: config.json has layer_norm_eps {}; it must be in (0, 1) (CLIP-L: 1e-5); the file is damaged, download "
           "it again", path, k.ln_eps);
    k.eos_token_id = json_int(cfg, "eos_token_id", 2);
    const std::string act = cfg.value("hidden_act", std::string("quick_gelu"));
    if (act != "quick_gelu" && act != "gelu") fail("{}: hidden_act '{}' is not supported (quick_gelu or gelu)", path, act);
    k.quick_gelu = act == "quick_gelu";
    const int64_t layers = json_int(cfg, "num_hidden_layers", k.layers);
    if (layers != k.layers) fail("{}: config.json has {} layers but the weights have {}", path, layers, k.layers);
  }
  if (k.heads <= 0 || k.hidden % k.heads) fail("{}: {} heads do not divide width {}", path, k.heads, k.hidden);
  if (pos[1] != k.hidden) fail("{}: position embedding width {} differs from the token embedding's {}", path, pos[1], k.hidden);
  return e;
}

void ClipTextEncoder::check_input(std::span<const int64_t> ids, std::span<const int64_t> mask) const {
  const int64_t L = static_cast<int64_t>(ids.size());
  if (L == 0) fail("encode-text: no tokens");
  if (L > cfg_.positions) fail("encode-text: {} tokens but CLIP has {} positions", L, cfg_.positions);
  if (mask.size() != ids.size()) fail("encode-text: ids has {} tokens but mask has {}", ids.size(), mask.size());
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i] != 0 && mask[i] != 1) fail("encode-text: mask[{}] = {}; the mask holds 0 or 1", i, mask[i]);
}

void ClipTextEncoder::embed(std::span<const int64_t> ids, float* x) const {
  const int64_t L = static_cast<int64_t>(ids.size()), D = cfg_.hidden;
  w_.gather_rows("embeddings.token_embedding.weight", ids, D, x);
  const auto pe = w_.f32("embeddings.position_embedding.weight", {cfg_.positions, D});
  for (int64_t i = 0; i < L * D; ++i) x[i] += pe[i];
}

int64_t ClipTextEncoder::pooled_position(std::span<const int64_t> ids) const {
  // transformers 4.46: eos_token_id == 2 -> argmax(ids) (first maximum); else first eos_token_id.
  if (cfg_.eos_token_id == 2) return std::max_element(ids.begin(), ids.end()) - ids.begin();
  const auto it = std::find(ids.begin(), ids.end(), cfg_.eos_token_id);
  return it == ids.end() ? 0 : it - ids.begin();
}

ClipTextOutput ClipTextEncoder::encode(std::span<const int64_t> ids, std::span<const int64_t> mask) const {
  const ClipTextConfig& k = cfg_;
  check_input(ids, mask);
  const int64_t L = static_cast<int64_t>(ids.size()), D = k.hidden, H = k.heads, F = k.ffn;

  ClipTextOutput out;
  out.last_hidden_state = Tensor::empty(DType::F32, {L, D});
  float* x = out.last_hidden_state.data_as<float>();
  embed(ids, x);
  std::vector<float> causal(static_cast<size_t>(L * L), 0.0f);
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = i + 1; j < L; ++j) causal[i * L + j] = -std::numeric_limits<float>::infinity();
  std::vector<uint8_t> key_mask(static_cast<size_t>(L));
  for (int64_t i = 0; i < L; ++i) key_mask[i] = mask[i] != 0;

  run_clip_encoder_layers(w_, {L, D, H, F, k.ln_eps, k.quick_gelu}, k.layers, x, causal.data(), key_mask.data());
  {
    const auto g = w_.f32("final_layer_norm.weight", {D}), b = w_.f32("final_layer_norm.bias", {D});
    cpu::layer_norm(x, x, L, D, g.data(), b.data(), k.ln_eps);
  }
  for (int64_t i = 0; i < L * D; ++i)
    if (!std::isfinite(x[i])) fail("{}: the CLIP text encoder produced NaN or inf (bad weights?)", w_.path());
  const int64_t at = pooled_position(ids);
  out.pooled = Tensor::empty(DType::F32, {D});
  std::copy(x + at * D, x + (at + 1) * D, out.pooled.data_as<float>());
  return out;
}

}  // namespace jenga::hunyuan
