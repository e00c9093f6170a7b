// `--attention svg` in the HunyuanVideo denoising loop on the CPU (the f32 reference): the
// official HunyuanVideo script's defaults, the dense warm-up, a layout per guidance branch (each
// branch's valid text rows), and the one-line refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/safetensors.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "hunyuan_svg_setup.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace jenga;

namespace {

struct TinyDit {
  test::TempDir dir;
  hunyuan::HunyuanDit dit;
  TinyDit() {
    hunyuan::write_random_checkpoint(dir.path().string(), hunyuan::HunyuanConfig::tiny(), 13, DType::F32);
    dit = hunyuan::load_hunyuan_dit(dir.path().string());
  }
};

}  // namespace

TEST(SvgHunyuanLoop, DefaultsAreTheOfficialHunyuanScript) {
  const SvgSettings s = svg_settings({}, 1, SvgFamily::hunyuan);  // scripts/hyvideo/hyvideo_t2v_720p_svg.sh
  EXPECT_EQ(s.sparsity, 0.25);
  EXPECT_EQ(s.first_times_fp, 0.1);
  EXPECT_EQ(s.first_layers_fp, 0.03);
  EXPECT_EQ(s.num_sampled_rows, 64);
  EXPECT_EQ(s.sample_mse_max_row, 10000);
  EXPECT_NE(std::string(svg_defaults_source(SvgFamily::hunyuan)).find("hyvideo_t2v_720p_svg.sh"), std::string::npos);
  EXPECT_EQ(svg_settings({}, 1).sparsity, 0.3);  // Wan keeps its own script's
}

TEST(SvgHunyuanLoop, RunsWithBothGuidanceKinds) {
  TinyDit m;
  const auto cpu = hunyuan::make_cpu_denoiser(m.dit);
  Progress quiet(Progress::Mode::Quiet);
  for (bool true_cfg : {false, true}) {
    SCOPED_TRACE(true_cfg ? "true cfg" : "embedded guidance");
    DenoiseRequest r = test::hunyuan_svg_request(*cpu, m.dit.config, true_cfg);
    const DenoiseResult svg = denoise(r, quiet);
    r.attention = AttentionMode::dense;
    const DenoiseResult dense = denoise(r, quiet);
    const auto& rep = svg.report["svg"];
    EXPECT_EQ(rep["dense_steps"].get<int>(), 1);
    EXPECT_EQ(rep["dense_layers"].get<int>(), 0);
    const double tf = rep["temporal_head_fraction"].get<double>();
    EXPECT_GE(tf, 0.0);
    EXPECT_LE(tf, 1.0);
    const double density = svg.report["sparse_block_density"].get<double>();
    EXPECT_GT(density, 0.0);
    EXPECT_LT(density, 1.0);  // the band drops key blocks
    const auto a = svg.latents.to_f32_vector(), b = dense.latents.to_f32_vector();
    for (float v : a) ASSERT_TRUE(std::isfinite(v));
    const double d = test::rel_l2(a, b);
    std::printf("svg vs dense final latents rel L2 %.3g, temporal heads %.3f, block density %.3f\n", d, tf, density);
    EXPECT_GT(d, 1e-6);  // SVG changed the attention
    EXPECT_LT(d, 0.5);   // ... but not the video
  }
}

TEST(SvgHunyuanLoop, RefusesTextOfAnotherLength) {
  TinyDit m;
  const auto cpu = hunyuan::make_cpu_denoiser(m.dit);
  Progress quiet(Progress::Mode::Quiet);
  DenoiseRequest r = test::hunyuan_svg_request(*cpu, m.dit.config, false);
  r.context = test::hunyuan_text(m.dit.config, 20, 31, 200);
  try {
    denoise(r, quiet);
    FAIL() << "expected a usage error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("256 text rows"), std::string::npos) << e.what();
  }
}

TEST(SvgHunyuanLoop, DebugDenoiseRunsTheSameLoop) {
  // `jenga debug denoise` on a HunyuanVideo DiT with --attention svg: the in-process loop's latents.
  TinyDit m;
  const auto& c = m.dit.config;
  const auto cpu = hunyuan::make_cpu_denoiser(m.dit);
  Progress quiet(Progress::Mode::Quiet);
  const DenoiseRequest r = test::hunyuan_svg_request(*cpu, c, false);
  const DenoiseResult want = denoise(r, quiet);
  test::TempDir io;  // beside the checkpoint folder, not in it
  const std::string in = (io.path() / "inputs.safetensors").string(), out = (io.path() / "out.safetensors").string();
  SafetensorsWriter w;
  w.add("noise", r.noise);
  w.add("context", r.context.tokens);
  const std::vector<float> valid{static_cast<float>(r.context.valid)};
  w.add("context_valid", Tensor::from_f32(valid, Shape{1}));
  w.add("pooled", r.context.pooled);
  w.write(in);
  const auto run = test::run_jenga("debug denoise --model " + m.dir.path().string() + " --inputs " + in + " --out " + out +
                                   " --attention svg --svg-sparsity 0.9 --first-times-fp 0.25 --first-layers-fp 0"
                                   " --steps 4 --seed 5 -q");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("temporal_head_fraction"), std::string::npos) << run.output;
  const Tensor got = SafetensorsFile::open(out)->load("latents", DType::F32);
  EXPECT_EQ(test::rel_l2(got.to_f32_vector(), want.latents.to_f32_vector()), 0.0);
  // A solver HunyuanVideo does not have: one line naming it.
  const auto bad = test::run_jenga("debug denoise --model " + m.dir.path().string() + " --inputs " + in + " --out " + out +
                                   " --solver unipc --steps 1 -q");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("Euler"), std::string::npos) << bad.output;
}

TEST(SvgHunyuanLoop, GenerateRunsTheTinyFolderWithSvg) {
  // `generate --attention svg` on make-tiny's HunyuanVideo folder: the sidecar names the official
  // HunyuanVideo script and its settings; the flags override them.
  test::TempDir dir;
  const std::string model = (dir.path() / "ckpts").string();
  auto m = test::run_jenga("debug make-tiny --family hunyuan --seed 3 --out " + model);
  ASSERT_EQ(m.exit_code, 0) << m.output;
  const std::string out = (dir.path() / "svg.y4m").string();
  auto g = test::run_jenga("generate --model " + model + " -p cat --size 64x64 --frames 9 --steps 3 --attention svg "
                           "--first-times-fp 0.34 --svg-sparsity 1 -q -o " + out);
  ASSERT_EQ(g.exit_code, 0) << g.output;
  std::ifstream sc(out + ".json");
  const auto j = nlohmann::json::parse(sc);
  const auto& s = j["settings"]["svg"];
  EXPECT_NE(s["source"].get<std::string>().find("hyvideo_t2v_720p_svg.sh"), std::string::npos);
  EXPECT_EQ(s["sparsity"], 1.0);
  EXPECT_EQ(s["first_layers_fp"], 0.03);  // the HunyuanVideo script's
  EXPECT_EQ(j["denoise"]["svg"]["dense_steps"], 1);
  EXPECT_EQ(j["denoise"]["attention"], "svg");
}

TEST(SvgHunyuanLoop, ImageToVideoIsRefusedInOneLine) {
  test::TempDir dir;
  const std::string model = (dir.path() / "ckpts").string();
  auto m = test::run_jenga("debug make-tiny --family hunyuan-i2v --seed 3 --out " + model);
  ASSERT_EQ(m.exit_code, 0) << m.output;
  auto g = test::run_jenga("generate --model " + model + " --image " + std::string(JENGA_TEST_DATA) +
                           "/hunyuan_i2v/grey_50x50.png -p cat --i2v-resolution 64 --frames 5 --steps 2 --attention svg -q -o " +
                           (dir.path() / "x.y4m").string());
  EXPECT_EQ(g.exit_code, 2) << g.output;
  EXPECT_NE(g.output.find("HunyuanVideo-I2V is not supported"), std::string::npos) << g.output;
}
