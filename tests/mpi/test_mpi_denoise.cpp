// The denoising loop with Ulysses sequence parallel over every rank equals the one-process
// loop (each rank runs both; the same random DiT on all), dense and Jenga, even and uneven
// token shards: Wan2.1, and HunyuanVideo (image tokens split, text tokens replicated).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "../test_util.h"
#include "core/rng.h"
#include "dist/communicator.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/hunyuan_presets.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_tiny.h"
#include "pipeline/denoise.h"
#include "models/wan/wan_model.h"
#include "models/wan/wan_presets.h"

using namespace jenga;

namespace {

dist::Communicator& world() {
  static auto comm = dist::make_communicator();
  return *comm;
}

Tensor randn(Shape s, uint64_t seed) {
  Tensor t = Tensor::empty(DType::F32, s);
  fill_normal({t.data_as<float>(), static_cast<size_t>(t.numel())}, seed);
  return t;
}

double max_abs(const Tensor& a, const Tensor& b) {
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    m = std::max(m, static_cast<double>(std::fabs(a.data_as<float>()[i] - b.data_as<float>()[i])));
  return m;
}

struct Case {
  const char* preset;
  int steps;
  int64_t T, H, W;
};

}  // namespace

TEST(MpiDenoise, SequenceParallelEqualsOneProcess) {
  auto& comm = world();
  ASSERT_GE(comm.size(), 2) << "run under mpirun -np 2 (or more)";
  test::TempDir dir;
  wan::WanConfig c = wan::WanConfig::tiny();
  c.num_heads = 2 * comm.size();
  wan::write_random_checkpoint(dir.path().string(), c, 21, DType::F32);
  const wan::WanDit model = wan::load_wan_dit(dir.path().string());
  // 63 tokens (uneven shards), and two Jenga runs with several 128-token blocks per stage.
  for (const Case& k : {Case{"dense", 4, 1, 14, 18}, Case{"base", 12, 2, 16, 24}, Case{"turbo", 28, 2, 16, 24}}) {
    DenoiseRequest r;
    const auto denoiser = wan::make_cpu_denoiser(model);
    r.denoiser = denoiser.get();
    JengaOverrides o;
    if (std::string(k.preset) == "turbo") o.teacache_thresh = 0.0;  // every forward; base keeps its step reuse
    r.jenga = wan_preset_for(k.preset, "1.3B", o, k.steps);
    const auto sizes = stage_latents(r.jenga, k.T, k.H, k.W);
    r.noise = randn(Shape{c.in_dim, sizes[0][0], sizes[0][1], sizes[0][2]}, 1);
    for (size_t s = 1; s < sizes.size(); ++s)
      r.renoise.push_back(randn(Shape{c.in_dim, sizes[s][0], sizes[s][1], sizes[s][2]}, 1 + s));
    r.context = randn(Shape{7, c.text_dim}, 3);
    r.context_null = randn(Shape{4, c.text_dim}, 4);
    r.steps = k.steps;
    r.shift = r.jenga ? 8.0 : 5.0;
    r.guide_scale = r.jenga ? 6.0 : 5.0;
    Progress quiet(Progress::Mode::Quiet);
    const DenoiseResult one = denoise(r, quiet);
    r.comm = &comm;
    const DenoiseResult sp = denoise(r, quiet);
    // f32 sums in another order (sharded attention); how far depends on the CPU's OpenBLAS kernels
    // (1.2e-5 on an AVX-512 Xeon for dense): a broken shard or gather is off by O(1).
    EXPECT_LE(max_abs(one.latents, sp.latents), 5e-5) << k.preset;
    EXPECT_EQ(one.computed_calls, sp.computed_calls) << k.preset;
    if (r.jenga) {
      EXPECT_GT(one.report["sparse_steps"].get<int>(), 0) << k.preset;
      EXPECT_NEAR(one.report["sparse_block_density"].get<double>(), sp.report["sparse_block_density"].get<double>(), 1e-6);
    }
  }
}

// HunyuanVideo: embedded guidance (one branch), padded text (4 real rows of 6), the whole-volume
// curve order, the fixed step-reuse list and AttenCarve with the text blocks under Jenga; a
// head dim of 32 whatever the ranks.
TEST(MpiDenoise, HunyuanSequenceParallelEqualsOneProcess) {
  auto& comm = world();
  ASSERT_GE(comm.size(), 2) << "run under mpirun -np 2 (or more)";
  test::TempDir dir;
  hunyuan::HunyuanConfig c = hunyuan::HunyuanConfig::tiny();
  c.heads = 2 * comm.size();
  c.hidden = 32 * c.heads, c.mlp_dim = 4 * c.hidden;
  hunyuan::write_random_checkpoint(dir.path().string(), c, 22, DType::F32);
  const hunyuan::HunyuanDit model = hunyuan::load_hunyuan_dit(dir.path().string());
  // 63 tokens (uneven shards; 48 + 15 on two ranks); turbo: 2x6x9 = 108 then 2x8x12 = 192
  // tokens; 3x3: 9 tokens, every rank but rank 0 holds no image token.
  for (const Case& k : {Case{"dense", 3, 1, 14, 18}, Case{"turbo", 8, 2, 16, 24}, Case{"dense", 2, 1, 6, 6}}) {
    const auto denoiser = hunyuan::make_cpu_denoiser(model);
    DenoiseRequest r;
    r.denoiser = denoiser.get();
    r.jenga = hunyuan::hunyuan_preset_for(k.preset, false, {}, k.steps);
    const auto sizes = stage_latents(r.jenga, k.T, k.H, k.W);
    r.noise = randn(Shape{c.in_channels, sizes[0][0], sizes[0][1], sizes[0][2]}, 1);
    for (size_t s = 1; s < sizes.size(); ++s)
      r.renoise.push_back(randn(Shape{c.in_channels, sizes[s][0], sizes[s][1], sizes[s][2]}, 1 + s));
    r.context.tokens = randn(Shape{6, c.text_dim}, 3);
    r.context.valid = 4;
    r.context.pooled = randn(Shape{c.text_dim_2}, 4);
    r.steps = k.steps, r.shift = 7.0, r.embedded_guidance = 6.0, r.solver = "euler";
    Progress quiet(Progress::Mode::Quiet);
    const DenoiseResult one = denoise(r, quiet);
    r.comm = &comm;
    const DenoiseResult sp = denoise(r, quiet);
    EXPECT_LE(max_abs(one.latents, sp.latents), 1e-5) << k.preset << " " << k.H << "x" << k.W;
    EXPECT_EQ(one.computed_calls, sp.computed_calls) << k.preset;
    if (r.jenga) {
      EXPECT_GT(one.forwards_reused, 0);
      EXPECT_GT(one.report["sparse_steps"].get<int>(), 0) << k.preset;
      EXPECT_NEAR(one.report["sparse_block_density"].get<double>(), sp.report["sparse_block_density"].get<double>(), 1e-6);
    }
  }
}
