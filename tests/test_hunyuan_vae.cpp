// HunyuanVideo causal 3D VAE against goldens from the official AutoencoderKLCausal3D
// (tools/golden/hunyuan_vae_golden.py): a tiny random config (blocks 8,8,16,16, GroupNorm 4,
// 4 latent channels) with sample_size 32 / sample_tsize 16 so the official tiling triggers at
// tiny sizes; decode and encode, tiled and untiled, non-square, 4k+1 frames; f32.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "golden_compare.h"
#include "io/safetensors.h"
#include "models/hunyuan/hunyuan_vae.h"
#include "models/hunyuan/hunyuan_vae_cpu.h"
#include "models/hunyuan/hunyuan_vae_random.h"
#include "models/hunyuan/hunyuan_vae_tiling.h"
#include "test_util.h"

using jenga::Checkpoint;
using jenga::DType;
using jenga::Tensor;
using jenga::test::max_rel_error;
using jenga::test::TempDir;
namespace hy = jenga::hunyuan;

namespace {
const std::string kDir = std::string(JENGA_TEST_DATA) + "/hunyuan_vae";

const hy::HunyuanVae& tiny_vae() {
  static const hy::HunyuanVae vae = hy::HunyuanVae::load(kDir + "/vae");  // folder: config.json + safetensors
  return vae;
}

const jenga::SafetensorsFile& golden() {
  static const auto g = jenga::SafetensorsFile::open(kDir + "/golden.safetensors");
  return *g;
}

Tensor g(const std::string& name) { return golden().load(name, DType::F32); }

Tensor clamped(const Tensor& t) {
  auto v = t.to_f32_vector();
  for (auto& x : v) x = std::clamp(x, -1.0f, 1.0f);
  return Tensor::from_f32(v, t.shape());
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const jenga::Error& e) {
    return e.what();
  }
  return "";
}

// A skeleton of the published VAE (no weights): enough for the tile plan.
hy::HunyuanVae published_skeleton() {
  hy::HunyuanVae v;
  for (int64_t i = 0; i < v.config.stages(); ++i) {
    hy::HyVaeStage s;
    s.t_factor = v.config.stage_temporal(i) ? 2 : 1;
    s.s_factor = v.config.stage_spatial(i) ? 2 : 1;
    if (s.t_factor > 1 || s.s_factor > 1) s.resample = hy::HyVaeConv{};
    v.decoder.stages.push_back(s);
    v.encoder.stages.push_back(s);
  }
  return v;
}
}  // namespace

TEST(HunyuanVae, ConfigAndStructureFromTheFolder) {
  const auto& v = tiny_vae();
  const auto& c = v.config;
  EXPECT_EQ(c.block_out_channels, (std::vector<int64_t>{8, 8, 16, 16}));
  EXPECT_EQ(c.layers_per_block, 1);
  EXPECT_EQ(c.latent_channels, 4);
  EXPECT_EQ(c.norm_num_groups, 4);
  EXPECT_EQ(c.sample_size, 32);
  EXPECT_EQ(c.sample_tsize, 16);
  EXPECT_DOUBLE_EQ(c.scaling_factor, 0.476986);
  EXPECT_EQ(c.tile_latent_min_size(), 4);
  EXPECT_EQ(c.tile_latent_min_tsize(), 4);
  EXPECT_NE(c.source.find("official"), std::string::npos);
  EXPECT_TRUE(c.defaulted.empty());
  ASSERT_TRUE(v.has_encoder);
  EXPECT_EQ(v.decoder.time_factor, 4);
  EXPECT_EQ(v.decoder.space_factor, 8);
  EXPECT_EQ(v.encoder.time_factor, 4);
  EXPECT_EQ(v.encoder.space_factor, 8);
  ASSERT_EQ(v.decoder.stages.size(), 4u);
  EXPECT_EQ(v.decoder.stages[0].resnets.size(), 2u);  // layers_per_block + 1
  EXPECT_EQ(v.encoder.stages[0].resnets.size(), 1u);
  // Official strides: up/down stage 0 spatial only, 1 and 2 both, 3 none.
  EXPECT_EQ(v.decoder.stages[0].t_factor, 1);
  EXPECT_EQ(v.decoder.stages[1].t_factor, 2);
  EXPECT_EQ(v.decoder.stages[2].t_factor, 2);
  EXPECT_FALSE(v.decoder.stages[3].resample.has_value());
  EXPECT_TRUE(v.decoder.stages[2].resnets[0].shortcut.has_value());  // 16 -> 8 channels
}

// Official tile layout at 720p: temporal tiles at 0, 12, 24 keeping 49 + 48 + 32 = 129 frames
// (125 frames: 49 + 48 + 28), 4 x 7 spatial tiles of 32 latents at stride 24 keeping 192 px.
TEST(HunyuanVae, PublishedTilePlanAt720p) {
  const auto v = published_skeleton();
  auto p = hy::hy_decode_plan(v, 33, 90, 160, true);
  EXPECT_TRUE(p.temporal);
  EXPECT_TRUE(p.spatial);
  EXPECT_EQ(p.t.start, (std::vector<int64_t>{0, 12, 24}));
  EXPECT_EQ(p.t.kept, (std::vector<int64_t>{49, 48, 32}));
  EXPECT_EQ(p.t.total, 129);
  EXPECT_EQ(p.h.start, (std::vector<int64_t>{0, 24, 48, 72}));
  EXPECT_EQ(p.h.kept, (std::vector<int64_t>{192, 192, 192, 144}));
  EXPECT_EQ(p.h.total, 720);
  EXPECT_EQ(p.w.start.size(), 7u);
  EXPECT_EQ(p.w.total, 1280);
  EXPECT_EQ(hy::hy_decode_plan(v, 32, 90, 160, true).t.kept, (std::vector<int64_t>{49, 48, 28}));
  // Triggers: T_lat > 16, H_lat or W_lat > 32.
  EXPECT_FALSE(hy::hy_decode_plan(v, 16, 32, 32, true).temporal);
  EXPECT_FALSE(hy::hy_decode_plan(v, 16, 32, 32, true).spatial);
  EXPECT_TRUE(hy::hy_decode_plan(v, 17, 32, 33, true).temporal);
  EXPECT_TRUE(hy::hy_decode_plan(v, 17, 32, 33, true).spatial);
  EXPECT_FALSE(hy::hy_decode_plan(v, 33, 90, 160, false).temporal);
  // Encode: frames > 64 and pixels > 256; 129 frames -> tiles at 0, 48, 96 -> 13 + 12 + 8 latents.
  auto e = hy::hy_encode_plan(v, 129, 720, 1280, true);
  EXPECT_TRUE(e.temporal && e.spatial);
  EXPECT_EQ(e.t.start, (std::vector<int64_t>{0, 48, 96}));
  EXPECT_EQ(e.t.total, 33);
  EXPECT_EQ(e.h.total, 90);
  EXPECT_EQ(e.w.total, 160);
}

struct DecodeCase {
  const char* name;
  bool tiled;
};

class HunyuanVaeDecode : public ::testing::TestWithParam<DecodeCase> {};

TEST_P(HunyuanVaeDecode, MatchesOfficial) {
  const auto [name, tiled] = GetParam();
  std::string key = std::string(name) + (tiled ? ".decode_tiled" : ".decode_untiled");
  // Case a triggers no tiling: the official tiled and untiled outputs are equal; one is stored.
  if (!golden().find(key)) key = std::string(name) + ".decode_tiled";
  const Tensor want = g(key);
  const Tensor got = hy::hunyuan_vae_decode(tiny_vae(), g(std::string(name) + ".latents"), tiled, /*clamp=*/false);
  ASSERT_EQ(got.shape(), want.shape());
  const double rel = max_rel_error(got.to_f32_vector(), want.to_f32_vector());
  RecordProperty("max_rel_error", std::to_string(rel));
  EXPECT_LE(rel, 1e-4) << key;
}

INSTANTIATE_TEST_SUITE_P(Golden, HunyuanVaeDecode,
                         ::testing::Values(DecodeCase{"a", true}, DecodeCase{"a", false}, DecodeCase{"b", true},
                                           DecodeCase{"b", false}, DecodeCase{"c", true}, DecodeCase{"d", true}),
                         [](const auto& i) { return std::string(i.param.name) + (i.param.tiled ? "_tiled" : "_untiled"); });

struct EncodeCase {
  const char* name;
  const char* input;  // the decode output whose clamp is the encoder input
  bool tiled;
};

class HunyuanVaeEncode : public ::testing::TestWithParam<EncodeCase> {};

TEST_P(HunyuanVaeEncode, MatchesOfficial) {
  const auto [name, input, tiled] = GetParam();
  const std::string key = std::string(name) + (tiled ? ".encode_tiled" : ".encode_untiled");
  const Tensor want = g(key);
  const Tensor got = hy::hunyuan_vae_encode(tiny_vae(), clamped(g(std::string(name) + input)), tiled);
  ASSERT_EQ(got.shape(), want.shape());
  const double rel = max_rel_error(got.to_f32_vector(), want.to_f32_vector());
  RecordProperty("max_rel_error", std::to_string(rel));
  EXPECT_LE(rel, 1e-4) << key;
}

INSTANTIATE_TEST_SUITE_P(Golden, HunyuanVaeEncode,
                         ::testing::Values(EncodeCase{"a", ".decode_tiled", true},
                                           EncodeCase{"b", ".decode_tiled", true},
                                           EncodeCase{"b", ".decode_tiled", false},
                                           EncodeCase{"c", ".decode_tiled", true},
                                           EncodeCase{"c", ".decode_tiled", false},
                                           EncodeCase{"d", ".decode_tiled", true},
                                           EncodeCase{"d", ".decode_tiled", false}),
                         [](const auto& i) { return std::string(i.param.name) + (i.param.tiled ? "_tiled" : "_untiled"); });

TEST(HunyuanVae, StreamGivesTemporalTilesInOrder) {
  // Case b: 4 temporal tiles keeping 13, 12, 12, 4 frames.
  std::vector<std::pair<int64_t, int64_t>> got;
  hy::hunyuan_vae_decode_stream(tiny_vae(), g("b.latents"), true,
                                [&](const hy::HyClip& c, int64_t first) { got.emplace_back(first, c.t); });
  EXPECT_EQ(got, (std::vector<std::pair<int64_t, int64_t>>{{0, 13}, {13, 12}, {25, 12}, {37, 4}}));
}

TEST(HunyuanVae, WriterMappingIsTheOfficialTruncation) {
  const Tensor frames = g("a.decode_tiled");
  const auto want = golden().load("a.rgb");  // u8 [F, H, W, 3] from the official mapping
  const auto f = hy::hunyuan_frames_to_rgb(frames);
  ASSERT_EQ(want.numel(), static_cast<int64_t>(f.rgb.size()));
  EXPECT_EQ(f.count, 13);
  EXPECT_EQ(f.height, 16);
  EXPECT_EQ(f.width, 24);
  const uint8_t* w = want.data_as<uint8_t>();
  EXPECT_TRUE(std::equal(f.rgb.begin(), f.rgb.end(), w));
  // The golden spans values beyond [-1, 1], so the clamp is exercised too.
  EXPECT_NE(std::count(f.rgb.begin(), f.rgb.end(), 0), 0);
  EXPECT_NE(std::count(f.rgb.begin(), f.rgb.end(), 255), 0);
}

TEST(HunyuanVae, PrefixedFileWithDiffusersConfigLoadsTheSame) {
  // The official loader keeps only "vae."-prefixed tensors when there are any; a diffusers
  // config.json (temporal_compression_ratio, no tile sizes) gives the published 256/64 tiles.
  TempDir dir;
  const Checkpoint src = Checkpoint::open(kDir + "/vae/tiny_vae.safetensors");
  jenga::SafetensorsWriter w;
  for (const auto& n : src.names()) w.add("vae." + n, src.load(n));
  w.add("model.other.weight", Tensor::from_f32(std::vector<float>{1.0f}, {1}));
  w.write(dir / "vae.safetensors");
  nlohmann::json cfg = {{"_class_name", "AutoencoderKLHunyuanVideo"}, {"block_out_channels", {8, 8, 16, 16}},
                        {"layers_per_block", 1}, {"latent_channels", 4}, {"norm_num_groups", 4},
                        {"temporal_compression_ratio", 4}, {"spatial_compression_ratio", 8},
                        {"scaling_factor", 0.476986}, {"in_channels", 3}, {"out_channels", 3},
                        {"mid_block_add_attention", true}, {"act_fn", "silu"}};
  std::ofstream(dir / "config.json") << cfg.dump();
  const auto v = hy::HunyuanVae::load(dir.path().string());
  EXPECT_NE(v.layout.find("vae."), std::string::npos);
  EXPECT_EQ(v.config.sample_size, 256);
  EXPECT_EQ(v.config.sample_tsize, 64);
  EXPECT_EQ(v.config.defaulted, (std::vector<std::string>{"sample_size", "sample_tsize"}));
  // With 256/64 tiles nothing tiles at this size: equal to the official untiled decode.
  const Tensor got = hy::hunyuan_vae_decode(v, g("b.latents"), true, false);
  EXPECT_LE(max_rel_error(got.to_f32_vector(), g("b.decode_untiled").to_f32_vector()), 1e-4);
}

TEST(HunyuanVae, LoneFileInfersShapesAndSaysWhatItCannotTell) {
  TempDir dir;
  std::filesystem::copy_file(kDir + "/vae/tiny_vae.safetensors", dir / "tiny.safetensors");
  const Checkpoint c = Checkpoint::open(dir / "tiny.safetensors");
  EXPECT_TRUE(hy::looks_like_hunyuan_vae(c));
  // GroupNorm groups are not in the weights; the published 32 does not divide 8 channels.
  const std::string err = error_of([&] { (void)hy::HunyuanVae::load(dir / "tiny.safetensors"); });
  EXPECT_NE(err.find("norm_num_groups 32"), std::string::npos) << err;
  EXPECT_NE(err.find("config.json"), std::string::npos) << err;
}

TEST(HunyuanVae, BadWeightsAndInputsGiveClearErrors) {
  TempDir dir;
  const Checkpoint src = Checkpoint::open(kDir + "/vae/tiny_vae.safetensors");
  {  // one tensor missing, one misshapen
    jenga::SafetensorsWriter w;
    for (const auto& n : src.names())
      if (n != "decoder.mid_block.attentions.0.to_k.bias") w.add(n, src.load(n));
    w.write(dir / "missing.safetensors");
    std::filesystem::copy_file(kDir + "/vae/config.json", dir / "config.json");
    const std::string err = error_of([&] { (void)hy::HunyuanVae::load(dir / "missing.safetensors"); });
    EXPECT_NE(err.find("decoder.mid_block.attentions.0.to_k.bias"), std::string::npos) << err;
    EXPECT_NE(err.find("missing"), std::string::npos) << err;
  }
  {
    TempDir d2;
    jenga::SafetensorsWriter w;
    for (const auto& n : src.names())
      w.add(n, n == "decoder.conv_out.conv.bias" ? Tensor::from_f32(std::vector<float>(4, 0.f), {4}) : src.load(n));
    w.write(d2 / "bad.safetensors");
    std::filesystem::copy_file(kDir + "/vae/config.json", d2 / "config.json");
    const std::string err = error_of([&] { (void)hy::HunyuanVae::load(d2 / "bad.safetensors"); });
    EXPECT_NE(err.find("decoder.conv_out.conv.bias has shape [4], expected [3]"), std::string::npos) << err;
  }
  {  // decoder-only file: decode works, encode says why not
    TempDir d3;
    jenga::SafetensorsWriter w;
    for (const auto& n : src.names())
      if (n.rfind("encoder.", 0) != 0 && n.rfind("quant_conv.", 0) != 0) w.add(n, src.load(n));
    w.write(d3 / "dec.safetensors");
    std::filesystem::copy_file(kDir + "/vae/config.json", d3 / "config.json");
    const auto v = hy::HunyuanVae::load(d3 / "dec.safetensors");
    EXPECT_FALSE(v.has_encoder);
    EXPECT_NE(error_of([&] { (void)hy::hunyuan_vae_encode(v, clamped(g("a.decode_tiled"))); }).find("no encoder"),
              std::string::npos);
  }
  const auto& v = tiny_vae();
  EXPECT_NE(error_of([&] { (void)hy::hunyuan_vae_decode(v, g("a.decode_tiled")); }).find("expected latents"),
            std::string::npos);
  auto z = g("a.latents").to_f32_vector();
  z[5] = NAN;
  EXPECT_NE(error_of([&] { (void)hy::hunyuan_vae_decode(v, Tensor::from_f32(z, g("a.latents").shape())); })
                .find("NaN"),
            std::string::npos);
  EXPECT_NE(error_of([&] { (void)hy::HunyuanVae::load(kDir + "/nope"); }).find("no such file"), std::string::npos);
  // A model root (diffusers / official layout) instead of its vae/ folder.
  TempDir root;
  std::filesystem::create_directories(root / "vae");
  EXPECT_NE(error_of([&] { (void)hy::HunyuanVae::load(root.path().string()); }).find("pass its vae/ subfolder"),
            std::string::npos);
}

// `jenga debug vae-decode / vae-encode` pick the HunyuanVideo VAE from its tensor names, read the
// folder's config.json and apply the official tiling unless --no-tiling.
TEST(HunyuanVaeCli, DecodeAndEncodeMatchOfficial) {
  TempDir dir;
  auto write = [&](const std::string& file, const std::string& name, const Tensor& t) {
    jenga::SafetensorsWriter w;
    w.add(name, t);
    w.write(dir / file);
  };
  write("c.safetensors", "latents", g("c.latents"));
  write("b.safetensors", "latents", g("b.latents"));
  write("d.safetensors", "frames", clamped(g("d.decode_tiled")));
  using jenga::test::run_jenga;
  auto r = run_jenga("debug vae-decode --vae " + kDir + "/vae --latents " + (dir / "c.safetensors") + " --out " +
                     (dir / "c_out.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("official tiles"), std::string::npos) << r.output;
  auto got = jenga::SafetensorsFile::open(dir / "c_out.safetensors")->load("frames");
  EXPECT_LE(max_rel_error(got.to_f32_vector(), clamped(g("c.decode_tiled")).to_f32_vector()), 1e-4);

  r = run_jenga("debug vae-decode --no-tiling --no-clamp --vae " + kDir + "/vae/tiny_vae.safetensors --latents " +
                (dir / "b.safetensors") + " --out " + (dir / "b_out.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  got = jenga::SafetensorsFile::open(dir / "b_out.safetensors")->load("frames");
  EXPECT_LE(max_rel_error(got.to_f32_vector(), g("b.decode_untiled").to_f32_vector()), 1e-4);

  r = run_jenga("debug vae-encode --vae " + kDir + "/vae --frames " + (dir / "d.safetensors") + " --out " +
                (dir / "d_z.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  got = jenga::SafetensorsFile::open(dir / "d_z.safetensors")->load("latents");
  EXPECT_LE(max_rel_error(got.to_f32_vector(), g("d.encode_tiled").to_f32_vector()), 1e-4);

  r = run_jenga("debug vae-decode --vae " + kDir + "/vae --latents " + (dir / "d.safetensors") + " --out " +
                (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("has no tensor named 'latents'"), std::string::npos) << r.output;
}

// A lone file whose channels the published GroupNorm(32) divides: the config comes from the
// shapes, the rest (groups, compression, tiles, scaling) from the published values, and the
// decode equals the one with the config.json written beside the same weights.
TEST(HunyuanVae, LoneFileConfigInferredFromShapes) {
  TempDir dir;
  hy::HunyuanVaeConfig cfg;
  cfg.block_out_channels = {32, 32, 64, 64};
  cfg.layers_per_block = 1;
  cfg.latent_channels = 4;
  hy::write_random_hunyuan_vae(cfg, (dir / "vae"), 5, DType::BF16);
  const auto with_config = hy::HunyuanVae::load(dir / "vae");
  EXPECT_EQ(with_config.config.source.find("inferred"), std::string::npos);
  std::filesystem::create_directories(dir / "lone");
  std::filesystem::rename(dir / "vae/diffusion_pytorch_model.safetensors", dir / "lone/hunyuan_video_vae_bf16.safetensors");
  const auto lone = hy::HunyuanVae::load(dir / "lone/hunyuan_video_vae_bf16.safetensors");
  const auto& c = lone.config;
  EXPECT_NE(c.source.find("inferred"), std::string::npos);
  EXPECT_EQ(c.block_out_channels, cfg.block_out_channels);
  EXPECT_EQ(c.layers_per_block, 1);
  EXPECT_EQ(c.latent_channels, 4);
  EXPECT_TRUE(c.mid_block_add_attention);
  EXPECT_EQ(c.norm_num_groups, 32);
  EXPECT_EQ(c.sample_size, 256);
  EXPECT_EQ(c.defaulted.size(), 6u);
  EXPECT_NE(c.summary().find("published values assumed for norm_num_groups"), std::string::npos);
  std::vector<float> zv(4 * 2 * 2 * 3);
  for (size_t i = 0; i < zv.size(); ++i) zv[i] = std::sin(0.7f * static_cast<float>(i));
  const Tensor z = Tensor::from_f32(zv, {4, 2, 2, 3});
  const auto a = hy::hunyuan_vae_decode(with_config, z, true, false).to_f32_vector();
  const auto b = hy::hunyuan_vae_decode(lone, z, true, false).to_f32_vector();
  EXPECT_EQ(a, b);
  for (float v : a) ASSERT_TRUE(std::isfinite(v));
}

// The official vae/ folder holds config.json + pytorch_model.pt: --vae FOLDER goes to that file
// (read through Checkpoint, which reads torch .pt files: a corrupt one is a one-line error naming
// it). A folder with neither weights file says so.
TEST(HunyuanVaeCli, OfficialFolderGoesToPytorchModelPt) {
  TempDir dir;
  std::filesystem::create_directories(dir / "vae");
  std::filesystem::copy_file(kDir + "/vae/config.json", dir / "vae/config.json");
  const auto r0 = jenga::test::run_jenga("debug vae-decode --vae " + (dir / "vae") + " --latents x --out " +
                                         (dir / "o.safetensors"));
  EXPECT_EQ(r0.exit_code, 1);
  EXPECT_NE(r0.output.find("neither *.safetensors nor pytorch_model.pt"), std::string::npos) << r0.output;
  std::ofstream(dir / "vae/pytorch_model.pt", std::ios::binary) << std::string("PK\x03\x04 not really a zip", 23);
  const auto r = jenga::test::run_jenga("debug vae-decode --vae " + (dir / "vae") + " --latents x --out " +
                                        (dir / "o.safetensors"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find("pytorch_model.pt"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "o.safetensors"));
}
