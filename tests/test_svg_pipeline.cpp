// `--attention svg` in the Wan denoising loop (CPU f32 reference): the warm-up steps and layers
// stay dense, the rest runs SVG; and the attention-mode flags reject what the loop cannot run.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/rng.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_tiny.h"
#include "pipeline/denoise.h"
#include "models/wan/wan_presets.h"
#include "denoise_test_setup.h"
#include "tensor_compare.h"

using namespace jenga;
using jenga::test::rel_l2;

TEST(SvgPipeline, AttentionFlagsResolveAndRejectBadCombinations) {
  EXPECT_EQ(resolve_attention("", false, {}), AttentionMode::dense);
  EXPECT_EQ(resolve_attention("", true, {}), AttentionMode::jenga);
  EXPECT_EQ(resolve_attention("svg", false, {}), AttentionMode::svg);
  EXPECT_EQ(resolve_attention("dense", true, {}), AttentionMode::dense);  // Jenga schedule, dense attention
  EXPECT_THROW(resolve_attention("svg", true, {}), UsageError);          // SVG runs the dense schedule
  EXPECT_THROW(resolve_attention("jenga", false, {}), UsageError);
  EXPECT_THROW(resolve_attention("sparse", false, {}), UsageError);
  SvgOverrides o;
  o.sparsity = 0.5;
  EXPECT_THROW(resolve_attention("dense", false, o), UsageError);  // SVG flags need --attention svg
  EXPECT_EQ(svg_settings(o, 7).sparsity, 0.5);
  EXPECT_EQ(svg_settings(o, 7).seed, 7u);
  EXPECT_EQ(svg_settings({}, 7).first_times_fp, 0.2);  // the official Wan script's value
  o.sparsity = 1.5;
  EXPECT_THROW(resolve_attention("svg", false, o), UsageError);
  SvgOverrides rows;
  rows.num_sampled_rows = 0;
  EXPECT_THROW(resolve_attention("svg", false, rows), UsageError);
}

TEST(SvgPipeline, DiffersFromDenseOnlyAfterTheWarmupSteps) {
  // 5 x 16 x 24 tokens: 15 blocks of 128, band 384 tokens: the SVG layout is strictly sparse.
  auto s = test::make_svg_setup(2, 6, 5, 32, 48);
  s->req.save_steps = {0, 1, 2};
  Progress quiet(Progress::Mode::Quiet);
  s->req.attention = AttentionMode::dense;
  const DenoiseResult dense = denoise(s->req, quiet);
  s->req.attention = AttentionMode::svg;
  s->req.svg.first_times_fp = 2.0 / 6.0 + 1e-9;  // floor(6 x) = 2 dense steps
  s->req.svg.first_layers_fp = 0.5;              // layer 0 of 2 stays dense
  const DenoiseResult svg = denoise(s->req, quiet);
  ASSERT_EQ(svg.saved.size(), 3u);
  EXPECT_EQ(svg.report["svg"]["dense_steps"], 2);
  EXPECT_EQ(svg.report["svg"]["dense_layers"], 1);
  EXPECT_EQ(rel_l2(svg.saved[0].second, dense.saved[0].second), 0.0);
  EXPECT_EQ(rel_l2(svg.saved[1].second, dense.saved[1].second), 0.0);
  const double d2 = rel_l2(svg.saved[2].second, dense.saved[2].second), d = rel_l2(svg.latents, dense.latents);
  std::printf("svg vs dense: step 2 %.3g, final %.3g, kept tiles %.3f, temporal heads %.2f\n", d2, d,
              svg.report["sparse_block_density"].get<double>(), svg.report["svg"]["temporal_head_fraction"].get<double>());
  EXPECT_GT(d2, 0.0);
  EXPECT_LT(d, 0.5);
  const double density = svg.report["sparse_block_density"];
  EXPECT_GT(density, 0.2);
  EXPECT_LT(density, 1.0);
  for (int64_t i = 0; i < svg.latents.numel(); ++i) ASSERT_TRUE(std::isfinite(svg.latents.data_as<float>()[i]));
}

TEST(SvgPipeline, SvgWithAJengaPresetIsRejected) {
  auto s = test::make_svg_setup(2, 50, 2, 8, 12);
  s->req.jenga = wan_preset_for("base", "1.3B", {}, 50);
  s->req.attention = AttentionMode::svg;
  Progress quiet(Progress::Mode::Quiet);
  EXPECT_THROW(denoise(s->req, quiet), UsageError);
}

TEST(SvgPipeline, GenerateWithSvgWritesItsSettingsAndRejectsBadFlags) {
  test::TempDir dir;
  const std::string base = "generate -p 'a corgi surfing' --size 64x48 --frames 5 --steps 3 --device cpu -q ";
  auto r = test::run_jenga(base + "--attention svg --svg-sparsity 0.5 --first-times-fp 0.34 -o " + (dir / "a.y4m"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(dir / "a.y4m.json");
  const auto side = nlohmann::json::parse(in);
  EXPECT_EQ(side["settings"]["attention"], "svg");
  EXPECT_EQ(side["settings"]["svg"]["sparsity"], 0.5);
  EXPECT_EQ(side["settings"]["svg"]["num_sampled_rows"], 64);
  EXPECT_EQ(side["denoise"]["svg"]["dense_steps"], 1);  // floor(0.34 * 3)
  for (const char* bad : {"--attention svg --preset turbo", "--attention jenga", "--svg-sparsity 0.5",
                          "--attention svg --svg-sparsity 0", "--attention svg --num-sampled-rows 0", "--attention warp"}) {
    auto b = test::run_jenga(base + bad + " -o " + (dir / "b.y4m"));
    EXPECT_EQ(b.exit_code, 2) << bad << ": " << b.output;
  }
}
