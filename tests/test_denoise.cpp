#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_tiny.h"
#include "pipeline/denoise.h"
#include "models/wan/wan_presets.h"
#include "denoise_test_setup.h"
#include "tensor_compare.h"
#include "test_util.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

using namespace jenga;
using jenga::test::TempDir;

namespace {

using jenga::test::rel_l2;

Tensor randn(Shape s, uint64_t seed) { return test::randn_tensor(s, seed); }

// A tiny random DiT (2 layers, dim 128) with `heads` heads and a request over a latent of
// T x H x W, noise drawn for the preset's first stage.
std::unique_ptr<test::DenoiseSetup> make_setup(int64_t heads, const std::string& preset, int steps, int64_t T,
                                               int64_t H, int64_t W, JengaOverrides o = {}) {
  return test::make_denoise_setup(test::tiny_dit_config(heads), preset, steps, T, H, W, o);
}

}  // namespace

TEST(Denoise, TrilinearResizeMatchesTorch) {
  const auto f = SafetensorsFile::open(std::string(JENGA_TEST_DATA) + "/trilinear.safetensors");
  const Tensor x = f->load("x", DType::F32);
  for (const char* name : {"up", "any3d"}) {
    const Tensor want = f->load(name, DType::F32);
    const Tensor got = resize_trilinear(x, want.dim(1), want.dim(2), want.dim(3));
    ASSERT_EQ(got.shape().str(), want.shape().str());
    for (int64_t i = 0; i < want.numel(); ++i)
      ASSERT_NEAR(got.data_as<float>()[i], want.data_as<float>()[i], 2e-6) << name << " at " << i;
  }
}

TEST(Denoise, PresetsResolveWithOverridesAndRejectBadOnes) {
  EXPECT_FALSE(wan_preset_for("dense", "1.3B").has_value());
  EXPECT_EQ(wan_preset_for("turbo", "14B")->name, "turbo-14b");
  JengaOverrides o;
  o.sa_drop_rates = {0.6, 0.9};
  o.res_rate_list = {0.5, 1.0};
  o.teacache_thresh = 0.0;
  const auto p = wan_preset_for("base", "1.3B", o, 50);
  EXPECT_EQ(p->sa_drop_rates, o.sa_drop_rates);
  EXPECT_TRUE(p->wan_turbo);  // a first stage below 1.0 turns ProRes on
  EXPECT_EQ(p->teacache_thresh, 0.0);
  EXPECT_EQ(stage_latents(p, 21, 60, 104)[0], (std::array<int64_t, 3>{21, 30, 52}));
  const auto three = stage_latents(wan_preset_for("3stage", "1.3B"), 21, 60, 104);
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(three[1], (std::array<int64_t, 3>{21, 44, 78}));
  EXPECT_THROW(wan_preset_for("turbo", "1.3B", {}, 20), UsageError);  // switch after step 25
  EXPECT_THROW(wan_preset_for("dense", "1.3B", o), UsageError);       // overrides need a preset
  JengaOverrides bad;
  bad.sa_drop_rates = {1.5};
  EXPECT_THROW(wan_preset_for("base", "1.3B", bad), UsageError);
  EXPECT_THROW(wan_preset_for("nope", "1.3B"), UsageError);
}

TEST(Denoise, TurboRunsTwoStagesAndCountsForwards) {
  JengaOverrides o;
  o.teacache_thresh = 0.0;  // every forward computed
  auto s = make_setup(4, "turbo", 28, 2, 8, 12, o);
  s->req.save_steps = {24, 25, 27};
  Progress quiet(Progress::Mode::Quiet);
  const DenoiseResult r = denoise(s->req, quiet);
  EXPECT_EQ(r.forwards, 56);
  EXPECT_EQ(r.forwards_reused, 0);
  ASSERT_EQ(r.saved.size(), 3u);
  EXPECT_EQ(r.saved[0].second.dim(2), 6);  // still the 0.75 stage after step 24
  EXPECT_EQ(r.saved[1].second.dim(2), 8);  // re-noised at full size after the switch step
  EXPECT_EQ(r.latents.shape().str(), "[16, 2, 8, 12]");
  EXPECT_LT(rel_l2(r.saved[2].second, r.latents), 1e-12);
  for (int64_t i = 0; i < r.latents.numel(); ++i) ASSERT_TRUE(std::isfinite(r.latents.data_as<float>()[i]));
}

TEST(Denoise, ThreeStagesSwitchTwice) {
  JengaOverrides o;
  o.teacache_thresh = 0.0;
  auto s = make_setup(4, "3stage", 20, 2, 16, 24, o);  // switches after steps 6 and 10
  s->req.save_steps = {6, 10};
  Progress quiet(Progress::Mode::Quiet);
  const DenoiseResult r = denoise(s->req, quiet);
  ASSERT_EQ(r.saved.size(), 2u);
  EXPECT_EQ(r.saved[0].second.shape().str(), "[16, 2, 12, 18]");  // 0.75 stage
  EXPECT_EQ(r.saved[1].second.shape().str(), "[16, 2, 16, 24]");
  EXPECT_EQ(r.report["stages"].size(), 3u);
}

TEST(Denoise, StepReuseSkipsForwardsAndStaysClose) {
  auto on = make_setup(4, "base", 12, 2, 8, 12);
  JengaOverrides o;
  o.teacache_thresh = 0.0;
  auto off = make_setup(4, "base", 12, 2, 8, 12, o);
  Progress quiet(Progress::Mode::Quiet);
  const DenoiseResult a = denoise(on->req, quiet), b = denoise(off->req, quiet);
  EXPECT_EQ(b.forwards_reused, 0);
  // Forced calls (first 10 of use_ret_steps) always compute; later ones may be reused.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.computed_calls[i], 1);
  EXPECT_EQ(a.computed_calls[0], a.computed_calls[1]);
  int reused = 0;
  for (auto c : a.computed_calls) reused += c == 0;
  EXPECT_EQ(reused, a.forwards_reused);
  // Reused steps change the result, but not wildly.
  const double d = rel_l2(a.latents, b.latents);
  if (reused > 0) EXPECT_GT(d, 0.0);
  EXPECT_LT(d, 0.5);
}

TEST(Denoise, RejectsNoiseOfTheWrongSize) {
  auto s = make_setup(4, "turbo", 28, 2, 8, 12);
  s->req.noise = randn(Shape{16, 2, 8, 12}, 1);  // full size where the 0.75 stage is expected
  Progress quiet(Progress::Mode::Quiet);
  EXPECT_THROW(denoise(s->req, quiet), Error);
}

#if JENGA_HAVE_CUDA
// The CUDA backend (bf16 DiT, GPU masks, GPU solver) against the CPU f32 reference, with a
// model whose head dim the CUDA kernels serve. Sparse steps select blocks from bf16 q/k on both
// sides; a near-threshold block may still flip, so the bound is loose. GPU only.
TEST(CudaDenoise, MatchesCpuBackendDenseAndJenga) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  Progress quiet(Progress::Mode::Quiet);
  struct C {
    const char* preset;
    int steps;
    int64_t heads;
    double tol;
  };
  for (const C& c : {C{"dense", 8, 2, 1e-2}, C{"base", 12, 1, 3e-2}, C{"turbo", 28, 2, 3e-2}}) {
    JengaOverrides o;
    if (std::string(c.preset) != "dense") o.teacache_thresh = 0.0;
    // 3 x 16 x 24 tokens = 1152: 9 blocks of 128, so AttenCarve keeps a strict subset.
    auto s = make_setup(c.heads, c.preset, c.steps, 3, 32, 48, o);
    const DenoiseResult cpu = denoise(s->req, quiet);
    s->use_cuda();
    const DenoiseResult gpu = denoise(s->req, quiet);
    const double d = rel_l2(gpu.latents, cpu.latents);
    std::printf("%s: %d steps, rel L2 cuda vs cpu %.3g\n", c.preset, c.steps, d);
    EXPECT_LT(d, c.tol) << c.preset;
  }
}
#endif
