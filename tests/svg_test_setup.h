#pragma once
// A tiny random Wan DiT and a dense-schedule denoise request for the SVG loop tests.
#include <memory>

#include "core/rng.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_tiny.h"
#include "pipeline/wan_denoise.h"
#include "test_util.h"

namespace jenga::test {

struct SvgSetup {
  TempDir dir;
  wan::WanDit model;
  DenoiseRequest req;
};

inline Tensor svg_randn(Shape s, uint64_t seed) {
  Tensor t = Tensor::empty(DType::F32, s);
  fill_normal({t.data_as<float>(), static_cast<size_t>(t.numel())}, seed);
  return t;
}

// 2 layers, dim 128, `heads` heads; latent T x H x W, dense schedule, `steps` steps.
inline std::unique_ptr<SvgSetup> make_svg_setup(int64_t heads, int steps, int64_t T, int64_t H, int64_t W) {
  auto s = std::make_unique<SvgSetup>();
  wan::WanConfig c = wan::WanConfig::tiny();
  c.num_heads = heads;
  wan::write_random_checkpoint(s->dir.path().string(), c, 21, DType::F32);
  s->model = wan::load_wan_dit(s->dir.path().string());
  auto& r = s->req;
  r.model = &s->model;
  r.noise = svg_randn(Shape{c.in_dim, T, H, W}, 1);
  r.context = svg_randn(Shape{7, c.text_dim}, 3);
  r.context_null = svg_randn(Shape{4, c.text_dim}, 4);
  r.steps = steps;
  r.svg.seed = 11;
  return s;
}

}  // namespace jenga::test
