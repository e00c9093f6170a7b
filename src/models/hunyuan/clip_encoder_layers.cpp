#include "models/hunyuan/clip_encoder_layers.h"

#include <cmath>
#include <string>
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/ops_t5vae.h"

namespace jenga::hunyuan {

void run_clip_encoder_layers(const EncoderWeights& weights, const ClipLayerShape& s, int64_t layers, float* x,
                             const float* bias, const uint8_t* key_mask) {
  const int64_t L = s.tokens, D = s.dim, H = s.heads, hd = D / H, F = s.ffn;
  std::vector<float> h(static_cast<size_t>(L * D)), qkv(static_cast<size_t>(3 * L * D)), o(h.size()), y(h.size()),
      f(static_cast<size_t>(L * F));
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "encoder.layers." + std::to_string(l) + ".";
    {
      const auto g = weights.f32(p + "layer_norm1.weight", {D}), b = weights.f32(p + "layer_norm1.bias", {D});
      cpu::layer_norm(x, h.data(), L, D, g.data(), b.data(), s.ln_eps);
    }
    for (int j = 0; j < 3; ++j) {
      const std::string n = p + "self_attn." + "qkv"[j] + "_proj.";
      const auto w = weights.f32(n + "weight", {D, D}), b = weights.f32(n + "bias", {D});
      cpu::linear(h.data(), w.data(), b.data(), qkv.data() + j * L * D, L, D, D);
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    for (int64_t hh = 0; hh < H; ++hh)
      cpu::attention_gemm(qkv.data() + hh * hd, D, qkv.data() + L * D + hh * hd, D, qkv.data() + 2 * L * D + hh * hd, D,
                          o.data() + hh * hd, D, L, L, hd, scale, bias, key_mask);
    {
      const auto w = weights.f32(p + "self_attn.out_proj.weight", {D, D}), b = weights.f32(p + "self_attn.out_proj.bias", {D});
      cpu::linear(o.data(), w.data(), b.data(), y.data(), L, D, D);
    }
    for (int64_t i = 0; i < L * D; ++i) x[i] += y[i];
    {
      const auto g = weights.f32(p + "layer_norm2.weight", {D}), b = weights.f32(p + "layer_norm2.bias", {D});
      cpu::layer_norm(x, h.data(), L, D, g.data(), b.data(), s.ln_eps);
    }
    {
      const auto w = weights.f32(p + "mlp.fc1.weight", {F, D}), b = weights.f32(p + "mlp.fc1.bias", {F});
      cpu::linear(h.data(), w.data(), b.data(), f.data(), L, F, D);
    }
    if (s.quick_gelu) {
      for (auto& v : f) v = v * (1.0f / (1.0f + std::exp(-1.702f * v)));
    } else {
      for (auto& v : f) v = 0.5f * v * (1.0f + std::erf(v / std::sqrt(2.0f)));
    }
    {
      const auto w = weights.f32(p + "mlp.fc2.weight", {D, F}), b = weights.f32(p + "mlp.fc2.bias", {D});
      cpu::linear(f.data(), w.data(), b.data(), y.data(), L, D, F);
    }
    for (int64_t i = 0; i < L * D; ++i) x[i] += y[i];
  }
}

}  // namespace jenga::hunyuan
