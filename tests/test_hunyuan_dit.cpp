// The HunyuanVideo DiT CPU forward against the official HYVideoDiffusionTransformer, piece by
// piece, on the tiny random model (tools/golden/hunyuan_dit_golden.py made the golden with the
// official code in f32; the model itself is `debug make-tiny --family hunyuan --seed 7`).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <optional>

#include "core/error.h"
#include "golden_compare.h"
#include "io/safetensors.h"
#include "models/detect.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_dit_cpu.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "hunyuan_dit_fixture.h"
#include "test_util.h"

using namespace jenga;
using jenga::test::max_rel_error;

namespace {

constexpr double kTol = 1e-4;  // f32 vs f32, different summation orders
constexpr char kT2vGolden[] = "hunyuan_dit_golden.safetensors";

class HunyuanDitGolden : public test::HunyuanDitWithGolden<kT2vGolden> {
 protected:
  static int64_t text_len() { return static_cast<int64_t>(g("text_mask").size()); }
};

}  // namespace

// The golden's weights are ours: sum and sum of squares of every tensor as the script loaded it.
TEST_F(HunyuanDitGolden, SameTestModel) {
  test::TempDir dir;
  hunyuan::write_random_checkpoint(dir.path().string(), hunyuan::HunyuanConfig::tiny(), 7, DType::F32);
  const Checkpoint ck = Checkpoint::open(dir.path().string());
  int n = 0;
  for (const auto& name : golden_->names()) {
    if (name.rfind("fp.", 0) != 0) continue;
    const auto fp = g(name);
    const auto w = ck.load(name.substr(3), DType::F32).to_f32_vector();
    double s = 0, s2 = 0;
    for (float v : w) s += v, s2 += static_cast<double>(v) * v;
    EXPECT_NEAR(s, fp[0], 1e-4 * std::max(1.0, std::abs(s))) << name;
    EXPECT_NEAR(s2, fp[1], 1e-4 * s2) << name;
    ++n;
  }
  EXPECT_EQ(n, static_cast<int>(hunyuan::official_tensors(hunyuan::HunyuanConfig::tiny()).size()));
}

TEST_F(HunyuanDitGolden, ModulationVector) {
  const float t = g("t")[0], guidance = g("guidance")[0];
  const auto& W = m().weights;
  const int64_t fd = m().config.freq_dim;
  EXPECT_LE(max_rel_error(hunyuan::timestep_embedder_cpu(W.time0, W.time2, t, fd), g("time_in")), kTol);
  EXPECT_LE(max_rel_error(hunyuan::timestep_embedder_cpu(W.guid0, W.guid2, guidance, fd), g("guidance_in")), kTol);
  const auto txt2 = g("text_states_2");
  const auto vec = hunyuan::modulation_vector_cpu(m(), t, txt2.data(), guidance);
  const double e = max_rel_error(vec, g("vec"));
  EXPECT_LE(e, kTol);
  std::printf("hunyuan modulation vector: max rel error %.3g\n", e);
}

TEST_F(HunyuanDitGolden, TokenRefiner) {
  const auto txt = g("text_states");
  const auto out = hunyuan::token_refiner_cpu(m(), txt.data(), text_len(), valid(), g("t")[0]);
  const double e = max_rel_error(out, g("txt_in"));
  EXPECT_LE(e, kTol) << "valid " << valid() << " of " << text_len();
  std::printf("hunyuan token refiner: max rel error %.3g\n", e);
  // The padding is part of what is checked: all tokens taken as real give another result.
  ASSERT_LT(valid(), text_len());
  const auto all = hunyuan::token_refiner_cpu(m(), txt.data(), text_len(), text_len(), g("t")[0]);
  EXPECT_GT(max_rel_error(all, g("txt_in")), 1e-3);
}

TEST_F(HunyuanDitGolden, Rope3D) {
  // The golden grid: 3 x 2 x 3 tokens (latent 3 x 4 x 6, patch 1 x 2 x 2).
  const auto r = hunyuan::rope_table_cpu(m().config, 3, 2, 3);
  EXPECT_LE(max_rel_error(r.cos, g("freqs_cos")), 1e-6);
  EXPECT_LE(max_rel_error(r.sin, g("freqs_sin")), 1e-6);
}

// The published split [16, 56, 56] (head dim 128) at the 720p position ranges (t < 32, w < 80).
TEST_F(HunyuanDitGolden, Rope3DPublishedSplit) {
  const auto c = hunyuan::HunyuanConfig::t2v_720p();
  const auto r = hunyuan::rope_table_cpu(c, 32, 2, 80);
  const auto rows = g("rope128.rows"), want_cos = g("rope128.cos"), want_sin = g("rope128.sin");
  std::vector<float> got_cos, got_sin;
  for (float row : rows) {
    const auto i = static_cast<size_t>(row) * static_cast<size_t>(r.head_dim);
    got_cos.insert(got_cos.end(), r.cos.begin() + i, r.cos.begin() + i + r.head_dim);
    got_sin.insert(got_sin.end(), r.sin.begin() + i, r.sin.begin() + i + r.head_dim);
  }
  const double ec = max_rel_error(got_cos, want_cos), es = max_rel_error(got_sin, want_sin);
  EXPECT_LE(ec, 1e-6);
  EXPECT_LE(es, 1e-6);
  std::printf("hunyuan RoPE [16, 56, 56], %zu tokens of 32x2x80: max rel error cos %.3g, sin %.3g\n", rows.size(), ec, es);
}

TEST_F(HunyuanDitGolden, DoubleStreamBlocks) {
  const auto rope = hunyuan::rope_table_cpu(m().config, 3, 2, 3);
  const auto vec = g("vec");
  const int64_t li = rope.tokens, lt = text_len();
  for (size_t i = 0; i < m().weights.doubles.size(); ++i) {
    auto img = i == 0 ? g("img_in") : g("double_" + std::to_string(i - 1) + ".img");
    auto txt = i == 0 ? g("txt_in") : g("double_" + std::to_string(i - 1) + ".txt");
    hunyuan::double_block_cpu(m().config, m().weights.doubles[i], img.data(), li, txt.data(), lt, valid(), vec.data(),
                              rope);
    const double ei = max_rel_error(img, g("double_" + std::to_string(i) + ".img"));
    const double et = max_rel_error(txt, g("double_" + std::to_string(i) + ".txt"));
    EXPECT_LE(ei, kTol) << "block " << i;
    EXPECT_LE(et, kTol) << "block " << i;
    std::printf("hunyuan double block %zu: max rel error img %.3g, txt %.3g\n", i, ei, et);
  }
}

TEST_F(HunyuanDitGolden, SingleStreamBlocks) {
  const auto rope = hunyuan::rope_table_cpu(m().config, 3, 2, 3);
  const auto vec = g("vec");
  const int64_t li = rope.tokens, lt = text_len();
  const std::string last = "double_" + std::to_string(m().weights.doubles.size() - 1);
  for (size_t i = 0; i < m().weights.singles.size(); ++i) {
    std::vector<float> x;
    if (i == 0) {
      x = g(last + ".img");
      const auto txt = g(last + ".txt");
      x.insert(x.end(), txt.begin(), txt.end());
    } else {
      x = g("single_" + std::to_string(i - 1));
    }
    hunyuan::single_block_cpu(m().config, m().weights.singles[i], x.data(), li, lt, valid(), vec.data(), rope);
    const double e = max_rel_error(x, g("single_" + std::to_string(i)));
    EXPECT_LE(e, kTol) << "block " << i;
    std::printf("hunyuan single block %zu: max rel error %.3g\n", i, e);
  }
}

TEST_F(HunyuanDitGolden, WholeForward) {
  const auto x = g("x");  // [16, 3, 4, 6]
  const auto txt = g("text_states"), txt2 = g("text_states_2");
  const auto out = hunyuan::hunyuan_forward_cpu(m(), x.data(), 3, 4, 6, g("t")[0], txt.data(), text_len(), valid(),
                                                txt2.data(), g("guidance")[0]);
  const double e = max_rel_error(out, g("out"));
  EXPECT_LE(e, kTol);
  std::printf("hunyuan whole forward: max rel error %.3g\n", e);
}

// Other shapes through the whole forward: no text padding (the padding segment is empty), one
// real text token, grids with one frame / unequal sides; the RoPE tables too.
TEST_F(HunyuanDitGolden, WholeForwardOtherShapes) {
  struct Case {
    const char* prefix;
    int64_t T, H, W;
  };
  for (const Case& k : {Case{"case2.", 2, 6, 4}, Case{"case3.", 1, 2, 8}}) {
    const std::string p = k.prefix;
    const auto x = g(p + "x");
    const auto txt = g(p + "text_states"), txt2 = g(p + "text_states_2"), mask = g(p + "text_mask");
    int64_t valid = 0;
    for (float v : mask) valid += v > 0.5f;
    const auto& c = m().config;
    const auto rope = hunyuan::rope_table_cpu(c, k.T / c.patch[0], k.H / c.patch[1], k.W / c.patch[2]);
    EXPECT_LE(max_rel_error(rope.cos, g(p + "freqs_cos")), 1e-6) << p;
    EXPECT_LE(max_rel_error(rope.sin, g(p + "freqs_sin")), 1e-6) << p;
    const auto out = hunyuan::hunyuan_forward_cpu(m(), x.data(), k.T, k.H, k.W, g(p + "t")[0], txt.data(),
                                                  static_cast<int64_t>(mask.size()), valid, txt2.data(),
                                                  g(p + "guidance")[0]);
    const double e = max_rel_error(out, g(p + "out"));
    EXPECT_LE(e, kTol) << p;
    std::printf("hunyuan whole forward %s (%lld of %zu text tokens real): max rel error %.3g\n", k.prefix,
                static_cast<long long>(valid), mask.size(), e);
  }
}

// 33 input channels, 16 out (the I2V latent concat's channel counts; the I2V release's own model
// code is not what made this golden: the official T2V class with in_channels=33 did).
TEST_F(HunyuanDitGolden, WholeForward33InputChannels) {
  test::TempDir dir;
  auto cfg = hunyuan::HunyuanConfig::tiny();
  cfg.in_channels = 33;
  hunyuan::write_random_checkpoint(dir.path().string(), cfg, 7, DType::F32);
  const auto m33 = hunyuan::load_hunyuan_dit(dir.path().string());
  ASSERT_TRUE(m33.config.is_i2v());
  const auto x = g("i2v.x"), txt = g("i2v.text_states"), txt2 = g("i2v.text_states_2"), mask = g("i2v.text_mask");
  ASSERT_EQ(x.size(), 33u * 2 * 4 * 4);
  int64_t valid = 0;
  for (float v : mask) valid += v > 0.5f;
  const auto out = hunyuan::hunyuan_forward_cpu(m33, x.data(), 2, 4, 4, g("i2v.t")[0], txt.data(),
                                                static_cast<int64_t>(mask.size()), valid, txt2.data(),
                                                g("i2v.guidance")[0]);
  const double e = max_rel_error(out, g("i2v.out"));
  EXPECT_LE(e, kTol);
  std::printf("hunyuan whole forward, 33 -> 16 channels: max rel error %.3g\n", e);
}

TEST(HunyuanDit, LoaderListsMissingAndUnexpected) {
  test::TempDir dir;
  hunyuan::write_random_checkpoint(dir.path().string(), hunyuan::HunyuanConfig::tiny(), 1, DType::BF16);
  const Checkpoint ck = Checkpoint::open(dir.path().string());
  // Re-write it without one tensor and with one extra.
  SafetensorsWriter w;
  for (const auto& n : ck.names())
    if (n != "double_blocks.1.txt_mlp.fc2.bias") w.add(n, ck.load(n, DType::BF16));
  w.add("double_blocks.0.extra.weight", Tensor::zeros(DType::BF16, Shape({2})));
  test::TempDir dir2;
  w.write(dir2 / "diffusion_pytorch_model.safetensors");
  std::filesystem::copy_file(dir / "config.json", dir2 / "config.json");
  try {
    hunyuan::load_hunyuan_dit(dir2.path().string());
    FAIL() << "loaded an incomplete checkpoint";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("1 missing tensor(s): double_blocks.1.txt_mlp.fc2.bias"), std::string::npos) << msg;
    EXPECT_NE(msg.find("1 unexpected tensor(s): double_blocks.0.extra.weight"), std::string::npos) << msg;
  }
  // The complete one loads (bf16 stored, f32 in memory).
  const auto m = hunyuan::load_hunyuan_dit(dir.path().string());
  EXPECT_EQ(m.weights.singles.size(), 2u);
  EXPECT_EQ(m.weights.doubles[1].txt.fc2.w.dtype(), DType::F32);
}

// The diffusers layout (HunyuanVideoTransformer3DModel, saved by diffusers itself): our loader maps
// its names back to the official tensors and our forward gives diffusers' output
// (tools/golden/hunyuan_diffusers_golden.py).
TEST(HunyuanDit, DiffusersLayoutMatchesDiffusers) {
  const std::string dir = std::string(JENGA_TEST_DATA) + "/hunyuan_dit/diffusers_tiny";
  const auto m = hunyuan::load_hunyuan_dit(dir);
  EXPECT_EQ(m.layout, hunyuan::Layout::Diffusers);
  EXPECT_EQ(m.config.hidden, 32);
  EXPECT_EQ(m.config.heads, 2);
  EXPECT_EQ(m.config.mlp_dim, 64);
  EXPECT_EQ(m.config.rope_dim[0], 4);
  EXPECT_EQ(m.config.double_blocks, 1);
  EXPECT_EQ(m.config.single_blocks, 1);
  EXPECT_TRUE(m.config.guidance_embed);
  const Checkpoint g = Checkpoint::open(std::string(JENGA_TEST_DATA) + "/hunyuan_dit/diffusers_golden.safetensors");
  auto v = [&](const char* n) { return g.load(n, DType::F32).to_f32_vector(); };
  const auto x = v("x"), txt = v("text_states"), txt2 = v("text_states_2"), mask = v("text_mask");
  int64_t valid = 0;
  for (float f : mask) valid += f > 0.5f;
  const auto out = hunyuan::hunyuan_forward_cpu(m, x.data(), 2, 4, 6, v("t")[0], txt.data(),
                                                static_cast<int64_t>(mask.size()), valid, txt2.data(), v("guidance")[0]);
  const double e = max_rel_error(out, v("out"));
  EXPECT_LE(e, kTol);
  std::printf("hunyuan diffusers layout vs diffusers: max rel error %.3g\n", e);
  // Detection on what diffusers wrote, and generate's refusal of it.
  const auto d = detect_model(Checkpoint::open(dir), dir);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->family, "hunyuanvideo-dit");
  EXPECT_EQ(d->layout, "diffusers");
  EXPECT_NE(d->details.find("hidden 32, 2 heads (head dim 16), 1 double + 1 single blocks, mlp 64"), std::string::npos)
      << d->details;
  EXPECT_NE(d->details.find("RoPE [4, 6, 6]"), std::string::npos) << d->details;
  test::TempDir tmp;
  const auto r = test::run_jenga("generate --model " + dir + " -p cat -o " + (tmp / "o.y4m"));
  // A DiT folder alone: generate takes it for HunyuanVideo and names the first missing component.
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("HunyuanVideo: the VAE is missing; pass it with --vae"), std::string::npos) << r.output;
}

// `jenga debug dit-forward` runs the HunyuanVideo forward on the golden's inputs (the golden file
// holds x, t, text_states, text_mask, text_states_2, guidance under those names).
TEST(HunyuanDit, DebugDitForwardCli) {
  test::TempDir dir;
  const std::string model = dir / "hy";
  ASSERT_EQ(test::run_jenga("debug make-tiny --family hunyuan --dit-only --seed 7 --dtype f32 --out " + model).exit_code, 0);
  const std::string golden = std::string(JENGA_TEST_DATA) + "/hunyuan_dit/hunyuan_dit_golden.safetensors";
  const auto r = test::run_jenga("debug dit-forward --model " + model + " --inputs " + golden + " --out " + (dir / "o.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("HunyuanVideo custom DiT, official layout, 2 double + 2 single blocks"), std::string::npos)
      << r.output;
  const Checkpoint o = Checkpoint::open(dir / "o.safetensors");
  const Checkpoint g = Checkpoint::open(golden);
  EXPECT_LE(max_rel_error(o.load("out", DType::F32).to_f32_vector(), g.load("out", DType::F32).to_f32_vector()), kTol);
  // Each block's residual stream on request: [Li + Lt, hidden] per block.
  const auto d = test::run_jenga("debug dit-forward --dump-blocks --model " + model + " --inputs " + golden + " --out " +
                                 (dir / "o3.safetensors"));
  ASSERT_EQ(d.exit_code, 0) << d.output;
  const Checkpoint ob = Checkpoint::open(dir / "o3.safetensors");
  EXPECT_TRUE(ob.contains("block3"));
  EXPECT_FALSE(ob.contains("block4"));
  EXPECT_EQ(ob.load("out", DType::F32).to_f32_vector(), o.load("out", DType::F32).to_f32_vector());
  // The tiny model's head dim 32 is no attention kernel's: the CUDA path says so (or that there
  // is no GPU / no CUDA build), in one line.
  const auto c = test::run_jenga("debug dit-forward --device cuda --model " + model + " --inputs " + golden +
                                 " --out " + (dir / "o2.safetensors"));
  EXPECT_EQ(c.exit_code, 1) << c.output;
  EXPECT_TRUE(c.output.find("head dim 64 or 128") != std::string::npos ||
              c.output.find("--device cuda") != std::string::npos)
      << c.output;
}

// --dump-rows-stride S (full-size parity dumps): each block keeps image rows 0, S, 2S, ... and
// every text row, the same values as the full dump's rows, which match the official blocks'.
TEST(HunyuanDit, DebugDitForwardDumpRowsStride) {
  test::TempDir dir;
  const std::string model = dir / "hy";
  ASSERT_EQ(test::run_jenga("debug make-tiny --family hunyuan --dit-only --seed 7 --dtype f32 --out " + model).exit_code, 0);
  const std::string golden = std::string(JENGA_TEST_DATA) + "/hunyuan_dit/hunyuan_dit_golden.safetensors";
  const std::string base = "debug dit-forward --model " + model + " --inputs " + golden;
  ASSERT_EQ(test::run_jenga(base + " --dump-blocks --out " + (dir / "full.safetensors")).exit_code, 0);
  const auto r = test::run_jenga(base + " --dump-blocks --dump-rows-stride 4 --out " + (dir / "s4.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto full = SafetensorsFile::open(dir / "full.safetensors");
  const auto s4 = SafetensorsFile::open(dir / "s4.safetensors");
  const Checkpoint g = Checkpoint::open(golden);
  const auto li_meta = s4->header().metadata.find("image_tokens");
  ASSERT_NE(li_meta, s4->header().metadata.end());
  const int64_t li = std::stoll(li_meta->second), lt = std::stoll(s4->header().metadata.at("text_tokens"));
  EXPECT_EQ(s4->header().metadata.at("image_row_stride"), "4");
  const int64_t h = g.load("double_0.img", DType::F32).shape()[-1];
  ASSERT_EQ(li, g.load("double_0.img", DType::F32).numel() / h);  // raster image rows of the golden's grid
  const int64_t ni = (li + 3) / 4;
  for (int b = 0; b < 4; ++b) {
    const std::string name = "block" + std::to_string(b);
    const Tensor a = s4->load(name, DType::F32), f = full->load(name, DType::F32);
    ASSERT_EQ(a.shape().str(), Shape({ni + lt, h}).str()) << name;
    const float* pa = a.data_as<float>();
    const float* pf = f.data_as<float>();
    for (int64_t i = 0; i < ni; ++i)
      for (int64_t j = 0; j < h; ++j) ASSERT_EQ(pa[i * h + j], pf[i * 4 * h + j]) << name << " image row " << i * 4;
    for (int64_t i = 0; i < lt * h; ++i) ASSERT_EQ(pa[ni * h + i], pf[li * h + i]) << name << " text";
    // Against the official block outputs (double: img + txt; single: image rows then text).
    std::vector<float> want, got(pa, pa + a.numel());
    const auto official = [&](const std::string& n) { return g.load(n, DType::F32).to_f32_vector(); };
    const std::vector<float> img = b < 2 ? official("double_" + std::to_string(b) + ".img")
                                         : official("single_" + std::to_string(b - 2));
    for (int64_t i = 0; i < ni; ++i) want.insert(want.end(), img.begin() + i * 4 * h, img.begin() + (i * 4 + 1) * h);
    if (b < 2) {
      const auto txt = official("double_" + std::to_string(b) + ".txt");
      want.insert(want.end(), txt.begin(), txt.end());
    } else {
      want.insert(want.end(), img.begin() + li * h, img.end());
    }
    EXPECT_LE(max_rel_error(got, want), kTol) << name;
  }
  // Bad values: one line naming the flag.
  const auto z = test::run_jenga(base + " --dump-blocks --dump-rows-stride 0 --out " + (dir / "z.safetensors"));
  EXPECT_EQ(z.exit_code, 2) << z.output;
  EXPECT_NE(z.output.find("--dump-rows-stride 0: must be at least 1"), std::string::npos) << z.output;
  const auto n = test::run_jenga(base + " --dump-rows-stride 2 --out " + (dir / "n.safetensors"));
  EXPECT_EQ(n.exit_code, 2) << n.output;
  EXPECT_NE(n.output.find("--dump-rows-stride needs --dump-blocks"), std::string::npos) << n.output;
  const auto m = test::run_jenga("debug dit-forward --model " + (dir / "none") + " --inputs " + golden +
                                 " --dump-blocks --dump-rows-stride 2 --out " + (dir / "m.safetensors"));
  EXPECT_EQ(m.exit_code, 1) << m.output;
  EXPECT_NE(m.output.find("no such file or folder"), std::string::npos) << m.output;
}
