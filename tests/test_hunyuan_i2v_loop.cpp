// HunyuanVideo-I2V loop pieces (models/hunyuan/i2v_loop.h) and the Jenga I2V facts
// (models/hunyuan/i2v_jenga.h, the "i2v-base" preset) against the official script's lists
// (tools/golden/jenga_hyi2v_facts.py read them from dvlab-research/Jenga).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "jenga/gilbert_curve.h"
#include "jenga/presets.h"
#include "jenga/schedule.h"
#include "models/hunyuan/i2v_jenga.h"
#include "models/hunyuan/i2v_loop.h"
#include "io/safetensors.h"
#include "golden_compare.h"

using namespace jenga;
namespace hy = jenga::hunyuan;

namespace {
nlohmann::json facts() {
  std::ifstream in(std::string(JENGA_TEST_DATA) + "/jenga_core/hyi2v_facts.json");
  return nlohmann::json::parse(in);
}
Tensor ramp(Shape s, float scale) {
  Tensor t = Tensor::empty(DType::F32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = scale * static_cast<float>(i % 7 - 3);
  return t;
}
}  // namespace

TEST(HunyuanI2vJenga, PresetStepsTextBlocksAndPaddingMatchTheScript) {
  const auto f = facts();
  const auto step_calc = f["step_calc"].get<std::vector<int>>();
  ASSERT_EQ(step_calc.size(), 24u);
  const Preset& p = find_preset(ModelFamily::Hunyuan, "i2v-base");
  EXPECT_EQ(p.computed_steps, step_calc);
  const Plan plan = build_plan(p, 50);
  std::vector<int> computed;
  for (const auto& s : plan.step)
    if (s.compute == StepCompute::Computed) computed.push_back(s.step);
  EXPECT_EQ(computed, step_calc);
  EXPECT_EQ(plan.step[0].drop_rate, 0.75);  // --sa-drop-rates 0.75 0.85 over the two stages
  EXPECT_EQ(plan.step[49].drop_rate, 0.85);
  EXPECT_EQ(plan.step[0].shift, 5.0);  // --flow-shift 5; the shift list only acts on resolution switches
  EXPECT_EQ(p.text_blocks, f["text_blocks"].get<int>());
  EXPECT_EQ(hy::kI2vJengaTextBlocks, f["text_blocks"].get<int64_t>());
  const int64_t img = f["pad_image_tokens"], txt = f["pad_text_tokens"];
  EXPECT_EQ(txt, hy::kI2vTextTokens);
  const int64_t pad = hy::jenga_i2v_pad_rows(img, txt);
  EXPECT_EQ(pad, f["pad_rows"].get<int64_t>());
  EXPECT_EQ((txt + pad) / 128, hy::kI2vJengaTextBlocks);  // 396 rows + 116 zero rows = 512
  EXPECT_EQ(hy::jenga_i2v_pad_rows(256, 256), 0);
}

TEST(HunyuanI2vJenga, FirstFrameMaskInCurveOrder) {
  int checked = 0;
  const auto f = facts();
  for (const auto& c : f["curves"]) {
    const int64_t t = c["t"], h = c["h"], w = c["w"];
    const Curve curve = build_curve(CurveSpec{t, h, w});
    EXPECT_EQ(std::vector<int64_t>(curve.order.begin(), curve.order.end()), c["order"].get<std::vector<int64_t>>());
    const auto m = hy::first_frame_mask_in_order(curve.order, h * w);
    EXPECT_EQ(std::vector<int>(m.begin(), m.end()), c["first_frame_mask"].get<std::vector<int>>());
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

TEST(HunyuanI2vLoop, ShiftDefaultsAndStabilityBlend) {
  EXPECT_EQ(hy::i2v_default_flow_shift(true), 7.0);
  EXPECT_EQ(hy::i2v_default_flow_shift(false), 17.0);
  Tensor x = ramp({2, 3, 2, 2}, 1.0f);
  const Tensor img = ramp({2, 1, 2, 2}, 0.5f);
  const Tensor x0 = ramp({2, 3, 2, 2}, 1.0f);
  hy::i2v_stability_blend(x, img);
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t f = 0; f < 3; ++f)
      for (int64_t i = 0; i < 4; ++i) {
        const int64_t k = (c * 3 + f) * 4 + i;
        EXPECT_EQ(x.data_as<float>()[k], x0.data_as<float>()[k] * 0.999f + img.data_as<float>()[c * 4 + i] * (1.0f - 0.999f));
      }
  Tensor bad = ramp({2, 1, 4, 2}, 1.0f);
  EXPECT_THROW(hy::i2v_stability_blend(x, bad), Error);
}

TEST(HunyuanI2vLoop, EulerStepKeepsTheImageFrame) {
  Tensor x = ramp({2, 3, 2, 2}, 1.0f);
  const Tensor x0 = ramp({2, 3, 2, 2}, 1.0f);
  const Tensor v = ramp({2, 3, 2, 2}, 0.25f);
  const Tensor img = ramp({2, 1, 2, 2}, -2.0f);
  const float s0 = 0.9f, s1 = 0.7f;
  hy::i2v_euler_step(x, v, img, s0, s1);
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t f = 0; f < 3; ++f)
      for (int64_t i = 0; i < 4; ++i) {
        const int64_t k = (c * 3 + f) * 4 + i;
        const float want = f == 0 ? img.data_as<float>()[c * 4 + i] : x0.data_as<float>()[k] + v.data_as<float>()[k] * (s1 - s0);
        EXPECT_EQ(x.data_as<float>()[k], want) << c << " " << f << " " << i;
      }
  EXPECT_THROW(hy::i2v_euler_step(x, ramp({2, 2, 2, 2}, 1.0f), img, s0, s1), Error);
}

TEST(HunyuanI2vLoop, LatentConcatInput) {
  const Tensor x = ramp({2, 3, 2, 2}, 1.0f);
  const Tensor img = ramp({2, 1, 2, 2}, 0.5f);
  const Tensor in = hy::i2v_latent_concat_input(x, img);
  ASSERT_EQ(in.shape().str(), Shape({5, 3, 2, 2}).str());
  const float* p = in.data_as<float>();
  for (int64_t c = 0; c < 5; ++c)
    for (int64_t f = 0; f < 3; ++f)
      for (int64_t i = 0; i < 4; ++i) {
        const float got = p[(c * 3 + f) * 4 + i];
        float want;
        if (c < 2) want = x.data_as<float>()[(c * 3 + f) * 4 + i];
        else if (c < 4) want = f == 0 ? img.data_as<float>()[(c - 2) * 4 + i] : 0.0f;
        else want = f == 0 ? 1.0f : 0.0f;
        EXPECT_EQ(got, want) << c << " " << f << " " << i;
      }
}

// The reference image as one frame through the tiny VAE's encoder, tiled as the official sampler
// (tools/golden/hunyuan_i2v_image_latent_golden.py: the official AutoencoderKLCausal3D).
TEST(HunyuanI2vLoop, ImageLatentMatchesTheOfficialVaeEncode) {
  const std::string dir = std::string(JENGA_TEST_DATA) + "/hunyuan_vae";
  const auto vae = hy::HunyuanVae::load(dir + "/vae");
  const auto g = SafetensorsFile::open(dir + "/i2v_image_latent_golden.safetensors");
  for (const std::string n : {"a", "b"}) {
    const Tensor z = hy::i2v_image_latent(vae, g->load("pixels_" + n));
    const Tensor want = g->load("latent_" + n);
    ASSERT_EQ(z.shape().str(), want.shape().str()) << n;
    EXPECT_LE(test::max_rel_error(z.to_f32_vector(), want.to_f32_vector()), 1e-4) << n;
  }
  EXPECT_THROW(hy::i2v_image_latent(vae, Tensor::zeros(DType::F32, {3, 1, 16, 24})), Error);
}
