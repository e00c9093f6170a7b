#pragma once
// The setup the denoise-loop tests share (CPU, CUDA, SVG, offload): a tiny random Wan DiT written
// with official key names and loaded back, and a request over a T x H x W latent whose noise is
// drawn for the preset's stages.
#include <memory>
#include <string>

#include "core/rng.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_model.h"
#include "models/wan/wan_tiny.h"
#include "pipeline/denoise.h"
#include "models/wan/wan_presets.h"
#include "test_util.h"

namespace jenga::test {

struct DenoiseSetup {
  TempDir dir;
  wan::WanDit model;
  std::unique_ptr<Denoiser> denoiser;  // req.denoiser: the CPU one unless use_cuda()
  DenoiseRequest req;
#if JENGA_HAVE_CUDA
  // The loop on the GPU from now on (offload: blocks streamed from pinned host memory).
  void use_cuda(bool offload = false) {
    denoiser = wan::cuda_parts().denoiser(model, offload);
    req.denoiser = denoiser.get();
  }
#endif
};

inline Tensor randn_tensor(Shape s, uint64_t seed) {
  Tensor t = Tensor::empty(DType::F32, s);
  fill_normal({t.data_as<float>(), static_cast<size_t>(t.numel())}, seed);
  return t;
}

// The tiny config (dim 128) with `heads` heads (head dim 64 or 128) and `layers` blocks.
inline wan::WanConfig tiny_dit_config(int64_t heads, int64_t layers = 2) {
  wan::WanConfig c = wan::WanConfig::tiny();
  c.num_heads = heads;
  c.num_layers = layers;
  return c;
}

// Weights loaded as `weights` (BF16 as the GPU path loads them); shift / cfg as the preset's
// official scripts (8 / 6) or Wan2.1's (5 / 5) for dense.
inline std::unique_ptr<DenoiseSetup> make_denoise_setup(const wan::WanConfig& c, const std::string& preset, int steps,
                                                        int64_t T, int64_t H, int64_t W, JengaOverrides o = {},
                                                        DType weights = DType::F32) {
  auto s = std::make_unique<DenoiseSetup>();
  wan::write_random_checkpoint(s->dir.path().string(), c, 21, DType::F32);
  s->model = wan::load_wan_dit(s->dir.path().string(), weights);
  auto& r = s->req;
  s->denoiser = wan::make_cpu_denoiser(s->model);
  r.denoiser = s->denoiser.get();
  r.jenga = wan_preset_for(preset, "1.3B", o, steps);
  const auto sizes = stage_latents(r.jenga, T, H, W);
  r.noise = randn_tensor(Shape{c.in_dim, sizes[0][0], sizes[0][1], sizes[0][2]}, 1);
  for (size_t k = 1; k < sizes.size(); ++k)
    r.renoise.push_back(randn_tensor(Shape{c.in_dim, sizes[k][0], sizes[k][1], sizes[k][2]}, 1 + k));
  r.context = randn_tensor(Shape{7, c.text_dim}, 3);
  r.context_null = randn_tensor(Shape{4, c.text_dim}, 4);
  r.steps = steps;
  r.shift = r.jenga ? 8.0 : 5.0;
  r.guide_scale = r.jenga ? 6.0 : 5.0;
  return s;
}

// The SVG loop tests: dense schedule, `heads` heads, profiling rows seeded 11.
inline std::unique_ptr<DenoiseSetup> make_svg_setup(int64_t heads, int steps, int64_t T, int64_t H, int64_t W) {
  auto s = make_denoise_setup(tiny_dit_config(heads), "dense", steps, T, H, W);
  s->req.svg.seed = 11;
  return s;
}

}  // namespace jenga::test
