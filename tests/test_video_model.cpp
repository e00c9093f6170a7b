// The model interface (models/video_model.h): Wan's and HunyuanVideo's CPU DiTs through the
// Denoiser equal their direct forwards; HunyuanVideo's forward honours the token order and the
// layout hook; the model-neutral denoise loop runs HunyuanVideo with embedded guidance.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/rng.h"
#include "golden_compare.h"
#include "jenga/gilbert_curve.h"
#include "models/hunyuan/hunyuan_dit_cpu.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "models/wan/wan_dit_cpu.h"
#include "models/wan/wan_model.h"
#include "models/wan/wan_tiny.h"
#include "pipeline/denoise.h"
#include "jenga/schedule.h"
#include "test_util.h"

using namespace jenga;
using jenga::test::max_rel_error;

namespace {

std::vector<float> randn(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  fill_normal(v, seed);
  return v;
}

Tensor randn_tensor(Shape s, uint64_t seed) {
  Tensor t = Tensor::empty(DType::F32, s);
  fill_normal({t.data_as<float>(), static_cast<size_t>(t.numel())}, seed);
  return t;
}

std::vector<float> values(const Tensor& t) { return t.to_f32_vector(); }

// A tiny HunyuanVideo DiT and a conditioning: `lt` text rows, `valid` real.
struct Hy {
  test::TempDir dir;
  hunyuan::HunyuanDit dit;
  Conditioning cond;
  explicit Hy(int64_t lt = 9, int64_t valid = 6, bool guidance_embed = true) {
    hunyuan::HunyuanConfig c = hunyuan::HunyuanConfig::tiny();
    c.guidance_embed = guidance_embed;
    hunyuan::write_random_checkpoint(dir.path().string(), c, 7, DType::F32);
    dit = hunyuan::load_hunyuan_dit(dir.path().string());
    cond.tokens = randn_tensor(Shape{lt, c.text_dim}, 3);
    cond.valid = valid;
    cond.pooled = randn_tensor(Shape{c.text_dim_2}, 4);
  }
  std::vector<float> direct(const Tensor& x, float t, float guidance, const DitForwardHooks* hooks = nullptr) const {
    return hunyuan::hunyuan_forward_cpu(dit, x.data_as<float>(), x.dim(1), x.dim(2), x.dim(3), t,
                                        cond.tokens.data_as<float>(), cond.tokens.dim(0), cond.valid,
                                        cond.pooled.data_as<float>(), hunyuan::hunyuan_guidance_value(guidance), hooks);
  }
};

}  // namespace

TEST(VideoModel, WanDenoiserEqualsTheDirectForward) {
  test::TempDir dir;
  wan::WanConfig c = wan::WanConfig::tiny();
  wan::write_random_checkpoint(dir.path().string(), c, 21, DType::F32);
  const wan::WanDit dit = wan::load_wan_dit(dir.path().string());
  const auto d = wan::make_cpu_denoiser(dit);
  const DenoiserInfo& info = d->info();
  EXPECT_EQ(info.geometry.latent_channels, c.in_dim);
  EXPECT_EQ(info.geometry.patch, (std::array<int64_t, 3>{1, 2, 2}));
  EXPECT_EQ(info.geometry.fps, 16);
  EXPECT_EQ(info.geometry.curve, CurveKind::FrameSliced);
  EXPECT_EQ(info.geometry.guidance, GuidanceKind::Cfg);
  EXPECT_EQ(info.geometry.condition_blocks, 0);
  EXPECT_FALSE(info.geometry.default_negative_prompt.empty());
  EXPECT_EQ(info.heads * info.head_dim, c.dim);

  const Tensor x = randn_tensor(Shape{c.in_dim, 2, 4, 6}, 1);
  const Tensor ctx = randn_tensor(Shape{5, c.text_dim}, 2), neg = randn_tensor(Shape{3, c.text_dim}, 5);
  d->set_conditioning(0, ctx);
  d->set_conditioning(1, neg);
  std::vector<int64_t> order(12);
  for (int64_t i = 0; i < 12; ++i) order[i] = 11 - i;
  DitForwardHooks h;
  h.token_order = order;
  EXPECT_EQ(values(d->forward_host(x, 700.0, 0, 5.0f, h)), values(wan::wan_forward_cpu(dit, x, 700.0, ctx, h)));
  EXPECT_EQ(values(d->forward_host(x, 700.0, 1, 5.0f, {})), values(wan::wan_forward_cpu(dit, x, 700.0, neg)));
  // A host denoiser refuses device buffers.
  EXPECT_THROW(d->forward_device(nullptr, nullptr, 0, 1.0f, nullptr, nullptr, {}), Error);
}

TEST(VideoModel, HunyuanDenoiserEqualsTheDirectForward) {
  Hy hy;
  const auto d = hunyuan::make_cpu_denoiser(hy.dit);
  const DenoiserInfo& info = d->info();
  EXPECT_EQ(info.geometry.curve, CurveKind::Volume);
  EXPECT_EQ(info.geometry.guidance, GuidanceKind::Embedded);
  EXPECT_EQ(info.geometry.condition_blocks, 2);
  EXPECT_EQ(info.layers, hy.dit.config.double_blocks + hy.dit.config.single_blocks);
  d->set_conditioning(0, hy.cond);
  const Tensor x = randn_tensor(Shape{16, 3, 4, 6}, 1);
  EXPECT_EQ(values(d->forward_host(x, 600.0, 0, 6.0f, {})), hy.direct(x, 600.0f, 6.0f));
  // Without a pooled vector the conditioning is refused in one line.
  Conditioning bad = hy.cond;
  bad.pooled = Tensor();
  EXPECT_THROW(d->set_conditioning(0, bad), Error);
}

// The token order is a relabelling: the blocks see the tokens in curve order, RoPE follows, the
// head puts them back, so the output equals the raster one up to summation order.
TEST(VideoModel, HunyuanTokenOrderGivesTheRasterOutput) {
  Hy hy;
  const auto d = hunyuan::make_cpu_denoiser(hy.dit);
  d->set_conditioning(0, hy.cond);
  const Tensor x = randn_tensor(Shape{16, 4, 8, 12}, 1);  // 4 x 4 x 6 tokens
  const auto curve = cached_curve(CurveSpec{4, 4, 6, false, std::nullopt});
  std::vector<int64_t> order(curve->order.begin(), curve->order.end());
  bool identity = true;
  for (size_t i = 0; i < order.size(); ++i) identity &= order[i] == static_cast<int64_t>(i);
  ASSERT_FALSE(identity);
  DitForwardHooks h;
  h.token_order = order;
  int blocks_seen = 0;
  h.after_block = [&](int, const float*, int64_t tokens) {
    ++blocks_seen;
    EXPECT_EQ(tokens, 96 + 9);
  };
  const auto raster = values(d->forward_host(x, 500.0, 0, 6.0f, {}));
  const auto curved = values(d->forward_host(x, 500.0, 0, 6.0f, h));
  EXPECT_EQ(blocks_seen, 4);
  EXPECT_LE(max_rel_error(curved, raster), 1e-4);
  EXPECT_NE(curved, raster);  // it did run in another order
  std::vector<int64_t> short_order(order.begin(), order.end() - 1);
  h.token_order = short_order;
  EXPECT_THROW(d->forward_host(x, 500.0, 0, 6.0f, h), Error);
}

// The layout hook sees each block's q/k over the attended segment (image + real text tokens) and
// its layout is what attention keeps: all blocks = dense, diagonal only = something else.
TEST(VideoModel, HunyuanLayoutHookDecidesTheAttention) {
  // No padding text: under a Jenga layout the text rows attend over every key, padding included
  // (the official sparse path), which the dense model does not; without padding both agree.
  Hy hy(6, 6);
  const auto d = hunyuan::make_cpu_denoiser(hy.dit);
  d->set_conditioning(0, hy.cond);
  const Tensor x = randn_tensor(Shape{16, 4, 16, 16}, 1);  // 256 image tokens + 6 text: 3 blocks
  const int64_t seg = 256 + 6, nb = 3, heads = hy.dit.config.heads;
  BlockSparseLayout all = BlockSparseLayout::dense(1, heads, nb, nb), diag;
  std::vector<uint8_t> onehot(static_cast<size_t>(heads * nb * nb), 0);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t b = 0; b < nb; ++b) onehot[(h * nb + b) * nb + b] = 1;
  diag = BlockSparseLayout::from_onehot(onehot, 1, heads, nb, nb);
  std::vector<int> layers;
  DitForwardHooks h;
  const BlockSparseLayout* use = &all;
  h.self_attn_layout = [&](int layer, const float* q, const float* k, int64_t tokens, int64_t hh) {
    layers.push_back(layer);
    EXPECT_EQ(tokens, seg);
    EXPECT_EQ(hh, heads);
    EXPECT_TRUE(std::isfinite(q[0]) && std::isfinite(k[(tokens - 1) * hh * hy.dit.config.head_dim()]));
    return use;
  };
  const auto dense = values(d->forward_host(x, 400.0, 0, 6.0f, {}));
  const auto kept_all = values(d->forward_host(x, 400.0, 0, 6.0f, h));
  EXPECT_EQ(layers, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_LE(max_rel_error(kept_all, dense), 1e-4);
  use = &diag;
  const auto sparse = values(d->forward_host(x, 400.0, 0, 6.0f, h));
  EXPECT_GT(max_rel_error(sparse, dense), 1e-3);
}

// The model-neutral loop with embedded guidance: one branch per step, the guidance scale goes
// into the DiT; one Euler step is x + (sigma_1 - sigma_0) v(x, t_0).
TEST(VideoModel, DenoiseLoopRunsHunyuanWithEmbeddedGuidance) {
  Hy hy;
  const auto d = hunyuan::make_cpu_denoiser(hy.dit);
  DenoiseRequest r;
  r.denoiser = d.get();
  r.noise = randn_tensor(Shape{16, 2, 4, 6}, 11);
  r.context = hy.cond;
  r.steps = 1;
  r.shift = 7.0;
  r.embedded_guidance = 6.0;
  r.solver = "euler";
  Progress quiet(Progress::Mode::Quiet);
  const DenoiseResult one = denoise(r, quiet);
  EXPECT_EQ(one.forwards, 1);
  EXPECT_EQ(one.computed_calls, (std::vector<uint8_t>{1, 0}));
  const HunyuanSchedule sch = hunyuan_flow_schedule(1, 7.0);
  const auto v = hy.direct(r.noise, static_cast<float>(sch.timesteps[0]), 6.0f);
  const float dt = static_cast<float>(sch.sigmas[1] - sch.sigmas[0]);
  const auto x0 = values(r.noise), got = values(one.latents);
  ASSERT_EQ(got.size(), x0.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], x0[i] + dt * v[i], 1e-5f) << i;

  r.steps = 4;
  const DenoiseResult four = denoise(r, quiet);
  EXPECT_EQ(four.forwards, 4);
  for (float e : values(four.latents)) ASSERT_TRUE(std::isfinite(e));
  // Its sigma table is FlowMatchDiscreteScheduler's: Euler only.
  r.solver = "unipc";
  EXPECT_THROW(denoise(r, quiet), UsageError);
}
