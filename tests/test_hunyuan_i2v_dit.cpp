// The HunyuanVideo-I2V DiT on the CPU against the official I2V HYVideoDiffusionTransformer
// (tools/golden/hunyuan_i2v_dit_golden.py, f32): token_replace (frame 0's tokens modulated from
// time_in(0) + vector_in(pooled), no guidance) block by block and whole, and latent_concat (33
// channels) whole. The models are `debug make-tiny --family hunyuan --seed 7 [--in-channels 33]`.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>

#include "golden_compare.h"
#include "io/safetensors.h"
#include "models/detect.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_dit_cpu.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "models/hunyuan/i2v_loop.h"
#include "jenga/schedule.h"
#include "hunyuan_dit_fixture.h"
#include "test_util.h"

using namespace jenga;
using jenga::test::max_rel_error;

namespace {

constexpr double kTol = 1e-4;  // f32 vs f32, different summation orders
constexpr char kI2vGolden[] = "hunyuan_i2v_dit_golden.safetensors";

class HunyuanI2vDit : public test::HunyuanDitWithGolden<kI2vGolden> {
 protected:
  // The forward on case `p` (latent T x H x W), with optional hooks.
  static std::vector<float> forward(const hunyuan::HunyuanDit& model, const std::string& p, int64_t T, int64_t H,
                                    int64_t W, bool token_replace, const DitForwardHooks* hooks = nullptr) {
    const auto x = g(p + "x"), txt = g(p + "text_states"), txt2 = g(p + "text_states_2");
    const auto lt = static_cast<int64_t>(g(p + "text_mask").size());
    return hunyuan::hunyuan_forward_cpu(model, x.data(), T, H, W, g(p + "t")[0], txt.data(), lt, valid(p), txt2.data(),
                                        g(p + "guidance")[0], hooks, token_replace);
  }
};

}  // namespace

TEST_F(HunyuanI2vDit, TokenReplaceVectorHasNoGuidanceTerm) {
  const auto txt2 = g("tr.text_states_2");
  EXPECT_LE(max_rel_error(hunyuan::token_replace_vector_cpu(m(), txt2.data()), g("tr.token_replace_vec")), kTol);
}

TEST_F(HunyuanI2vDit, TokenReplaceBlocksAndWholeForward) {
  // Every block's output (image tokens first, then text) as the official blocks return it.
  const int64_t h = m().config.hidden;
  int seen = 0;
  DitForwardHooks hooks;
  hooks.after_block = [&](int layer, const float* xs, int64_t tokens) {
    std::vector<float> got(xs, xs + tokens * h);
    const int64_t nd = m().config.double_blocks;
    if (layer < nd) {
      const auto img = g("tr.double_" + std::to_string(layer) + ".img"), txt = g("tr.double_" + std::to_string(layer) + ".txt");
      std::vector<float> want(img);
      want.insert(want.end(), txt.begin(), txt.end());
      EXPECT_LE(max_rel_error(got, want), kTol) << "double block " << layer;
    } else {
      EXPECT_LE(max_rel_error(got, g("tr.single_" + std::to_string(layer - nd))), kTol) << "single block " << layer - nd;
    }
    ++seen;
  };
  const auto out = forward(m(), "tr.", 3, 4, 6, true, &hooks);
  EXPECT_EQ(seen, m().config.double_blocks + m().config.single_blocks);
  const double e = max_rel_error(out, g("tr.out"));
  EXPECT_LE(e, kTol);
  EXPECT_LE(max_rel_error(forward(m(), "tr2.", 2, 6, 4, true), g("tr2.out")), kTol);
  // The condition matters: without it the output differs from the official I2V output.
  EXPECT_GT(max_rel_error(forward(m(), "tr.", 3, 4, 6, false), g("tr.out")), 1e-2);
  std::printf("hunyuan i2v token_replace forward: max rel error %.3g\n", e);
}

// Jenga's order (a permutation of the tokens, as its space-filling curve): the first-frame rows are
// found where the order puts them, so dense attention gives the raster result.
TEST_F(HunyuanI2vDit, TokenReplaceFollowsTheTokenOrder) {
  const int64_t li = 3 * 2 * 3;
  std::vector<int64_t> order(static_cast<size_t>(li));
  for (int64_t i = 0; i < li; ++i) order[i] = i;
  std::mt19937 rng(5);
  std::shuffle(order.begin(), order.end(), rng);
  DitForwardHooks hooks;
  hooks.token_order = order;
  EXPECT_LE(max_rel_error(forward(m(), "tr.", 3, 4, 6, true, &hooks), g("tr.out")), kTol);
}

TEST_F(HunyuanI2vDit, LatentConcat33ChannelsMatchesTheI2vClass) {
  test::TempDir dir;
  auto cfg = hunyuan::HunyuanConfig::tiny();
  cfg.in_channels = 33;
  hunyuan::write_random_checkpoint(dir.path().string(), cfg, 7, DType::F32);
  const auto m33 = hunyuan::load_hunyuan_dit(dir.path().string());
  EXPECT_LE(max_rel_error(forward(m33, "lc.", 2, 4, 4, false), g("lc.out")), kTol);
}

// Two steps of the official token_replace loop with --i2v-stability (shift 7, guidance 6): the
// blend, frame 0 replaced before each forward, the Euler step on frames 1.. only.
TEST_F(HunyuanI2vDit, TwoStepLoopMatchesTheOfficialSampler) {
  const int64_t T = 3, H = 4, W = 6;
  const auto sch = jenga::hunyuan_flow_schedule(2, 7.0);
  EXPECT_EQ(sch.sigmas, g("loop.sigmas"));
  EXPECT_EQ(sch.timesteps, g("loop.timesteps"));
  Tensor x = Tensor::from_f32(g("loop.noise"), Shape{16, T, H, W});
  const Tensor img = Tensor::from_f32(g("loop.image_latent"), Shape{16, 1, H, W});
  hunyuan::i2v_stability_blend(x, img);
  EXPECT_LE(max_rel_error(x.to_f32_vector(), g("loop.blended")), 1e-7);
  const auto txt = g("loop.text_states"), txt2 = g("loop.text_states_2");
  const auto lt = static_cast<int64_t>(g("loop.text_mask").size());
  int64_t valid = 0;
  for (float v : g("loop.text_mask")) valid += v > 0.5f;
  for (int i = 0; i < 2; ++i) {
    hunyuan::i2v_replace_first_frame(x, img);
    const auto v = hunyuan::hunyuan_forward_cpu(m(), x.data_as<float>(), T, H, W, sch.timesteps[i], txt.data(), lt, valid,
                                                txt2.data(), 6000.0f, nullptr, true);
    EXPECT_LE(max_rel_error(v, g("loop.v" + std::to_string(i))), kTol) << "step " << i;
    hunyuan::i2v_euler_step(x, Tensor::from_f32(v, Shape{16, T, H, W}), img, sch.sigmas[i], sch.sigmas[i + 1]);
  }
  const double e = max_rel_error(x.to_f32_vector(), g("loop.final"));
  EXPECT_LE(e, kTol);
  std::printf("hunyuan i2v 2-step loop vs official: max rel error %.3g\n", e);
}

// `jenga debug dit-forward --token-replace` on the token_replace case's inputs.
// --model is the whole tiny folder make-tiny writes: dit-forward finds its DiT (transformers/).
TEST(HunyuanI2vDitCli, DitForwardTokenReplace) {
  test::TempDir dir;
  const std::string model = dir / "hy";
  ASSERT_EQ(test::run_jenga("debug make-tiny --family hunyuan --seed 7 --dtype f32 --out " + model).exit_code, 0);
  const Checkpoint g = Checkpoint::open(std::string(JENGA_TEST_DATA) + "/hunyuan_dit/" + kI2vGolden);
  {
    SafetensorsWriter w;
    for (const char* n : {"x", "t", "text_states", "text_mask", "text_states_2", "guidance"})
      w.add(n, g.load(std::string("tr.") + n, DType::F32));
    w.write(dir / "in.safetensors");
  }
  auto r = test::run_jenga("debug dit-forward --token-replace --model " + model + " --inputs " + (dir / "in.safetensors") +
                           " --out " + (dir / "o.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LE(max_rel_error(Checkpoint::open(dir / "o.safetensors").load("out", DType::F32).to_f32_vector(),
                          g.load("tr.out", DType::F32).to_f32_vector()),
            kTol);
}
