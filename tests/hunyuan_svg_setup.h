#pragma once
// A HunyuanVideo denoising run with --attention svg on a small random DiT, for the CPU loop test
// and the CUDA-vs-CPU one: 8 latent frames x 16 x 32 (1024 video tokens, 8 frames x 128) and the
// official 256 text rows, a band of two 128-token blocks at sparsity 0.9 (the text rows take most
// of a tiny sequence's budget), 4 Euler steps of which the first is dense.
#include <cstdint>

#include "core/rng.h"
#include "models/hunyuan/hunyuan_config.h"
#include "pipeline/denoise.h"

namespace jenga::test {

// One prompt's conditioning as the LLM gives it: 256 rows (the official crop), `valid` real.
inline Conditioning hunyuan_text(const hunyuan::HunyuanConfig& c, int64_t valid, uint64_t seed, int64_t rows = 256) {
  Conditioning k;
  k.tokens = Tensor::empty(DType::F32, Shape{rows, c.text_dim});
  fill_normal({k.tokens.data_as<float>(), static_cast<size_t>(k.tokens.numel())}, seed);
  k.valid = valid;
  k.pooled = Tensor::empty(DType::F32, Shape{c.text_dim_2});
  fill_normal({k.pooled.data_as<float>(), static_cast<size_t>(k.pooled.numel())}, seed + 1);
  return k;
}

// true_cfg: both branches (valid rows 20 and 11: a layout per branch), else embedded guidance.
inline DenoiseRequest hunyuan_svg_request(Denoiser& d, const hunyuan::HunyuanConfig& c, bool true_cfg) {
  DenoiseRequest r;
  r.denoiser = &d;
  r.noise = Tensor::empty(DType::F32, Shape{c.out_channels, 8, 16, 32});
  fill_normal({r.noise.data_as<float>(), static_cast<size_t>(r.noise.numel())}, 21);
  r.context = hunyuan_text(c, 20, 31), r.context_null = hunyuan_text(c, 11, 41);
  r.steps = 4, r.shift = 7.0, r.embedded_guidance = 6.0, r.guide_scale = true_cfg ? 3.0 : 1.0, r.true_cfg = true_cfg;
  r.solver = "euler";
  r.attention = AttentionMode::svg;
  r.svg = svg_settings({}, 5, SvgFamily::hunyuan);
  r.svg.sparsity = 0.9;
  r.svg.first_times_fp = 0.25;  // 1 dense step
  r.svg.first_layers_fp = 0.0;
  return r;
}

}  // namespace jenga::test
